"""The dashboard in a real browser: each page loads, tasks update live, outputs play."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from emulator.services import holds, templates
from tests.conftest import wait_for
from tests.ui.conftest import Snap

# Collected without the dev dependency too: the module then skips, saying why.
expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

UI = "/_emulator/ui"
MEDIA_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"encoder_preset": "ultrafast"}


def add_template(emulator: EmulatorServer, fmt: str) -> str:
    """A custom template in `fmt` (dash too, which only the v1 generation can ask for)."""
    name = f"ui-{fmt}"
    with emulator.app.state.ctx.db.write() as session:
        templates.add(session=session, name=name, fields={"format": fmt}, now=time.time())
    return name


def create_task(api: TranscodeClient, template: str, source: str, storage_id: str) -> str:
    params = {
        "template_name": template,
        "input": source,
        "output": "ui/out",
        "storage_id": storage_id,
    }
    task_id: str = api.call("POST", "/api/create_task", params)["task_id"]
    return task_id


def test_task_moves_from_pending_to_success_without_reload(
    page: Any,
    emulator: EmulatorServer,
    api: TranscodeClient,
    storage_id: str,
    clip_url: str,
    snap: Snap,
) -> None:
    ctx = emulator.app.state.ctx
    with ctx.db.write() as session:
        holds.add(session, stage="pending")
    task_id = create_task(api, add_template(emulator, "hls"), clip_url, storage_id)
    page.goto(UI)
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row).to_have_attribute("data-status", "pending")
    expect(row.locator(".badge")).to_have_text("pending")
    expect(page.locator(".notice")).to_contain_text("stay in pending")
    page.evaluate("window.stillThisPage = true")
    snap(page, "tasks-pending")

    with ctx.db.write() as session:
        holds.release(session)
    ctx.wake_workers()

    expect(row).to_have_attribute("data-status", "success", timeout=30_000)
    expect(row.locator(".badge")).to_have_text("success")
    expect(row.locator(".timing-text")).to_contain_text("running")
    expect(page.locator(".notice")).to_have_count(0)
    expect(page.locator(".filters a.f-success .count")).to_have_text("1")
    assert page.evaluate("window.stillThisPage") is True  # no reload happened
    snap(page, "tasks-success")


def test_status_filter_lists_only_that_status(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    failed = create_task(api, "480p", "s3://inputs/missing.mp4", storage_id)
    wait_for(api, failed)
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="pending")
    waiting = create_task(api, "480p", clip_url, storage_id)

    page.goto(f"{UI}?status=fail")
    expect(page.locator("tr[data-task-id]")).to_have_count(1)
    expect(page.locator(f'tr[data-task-id="{failed}"] .err')).to_contain_text("2001")
    expect(page.locator(".filters a.active")).to_contain_text("fail 1")

    page.goto(f"{UI}?status=pending")
    expect(page.locator("tr[data-task-id]")).to_have_count(1)
    expect(page.locator(f'tr[data-task-id="{waiting}"]')).to_be_visible()


def test_tasks_are_listed_newest_first(
    page: Any, api: TranscodeClient, emulator: EmulatorServer, storage_id: str
) -> None:
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="pending")
    made = [
        create_task(api, "480p", f"https://example.invalid/{n}.mp4", storage_id) for n in range(3)
    ]
    page.goto(UI)
    expect(page.locator("tr[data-task-id]")).to_have_count(3)
    shown = page.locator("tr[data-task-id]").evaluate_all("rows => rows.map(r => r.dataset.taskId)")
    assert shown == sorted(made, reverse=True)


def test_task_page_shows_the_task_and_plays_its_hls_output(
    page: Any,
    emulator: EmulatorServer,
    api: TranscodeClient,
    storage_id: str,
    clip_url: str,
    snap: Snap,
) -> None:
    task_id = create_task(api, add_template(emulator, "hls"), clip_url, storage_id)
    assert wait_for(api, task_id)["status"] == "success"
    page.goto(f"{UI}/tasks/{task_id}")
    expect(page.locator(".status-panel .badge")).to_have_text("success")
    expect(page.locator("pre.cmd")).to_contain_text("ffmpeg")
    expect(page.get_by_role("heading", name="stderr tail")).to_be_visible()
    expect(page.get_by_text('"name": "ui-hls"')).to_be_visible()
    expect(page.locator("section", has_text="Input probe")).to_contain_text("duration")
    expect(page.locator(".downloads a").first).to_have_text("ui/out.m3u8")

    duration = play(page, "hls")
    assert 0.5 < duration < 2
    assert page.locator('video[data-kind="hls"]').get_attribute("data-engine") == "hls.js"
    snap(page, "task-hls")


def test_task_page_plays_a_dash_output(
    page: Any,
    emulator: EmulatorServer,
    api: TranscodeClient,
    storage_id: str,
    clip_url: str,
    snap: Snap,
) -> None:
    task_id = create_task(api, add_template(emulator, "dash"), clip_url, storage_id)
    assert wait_for(api, task_id)["status"] == "success"
    page.goto(f"{UI}/tasks/{task_id}")
    assert play(page, "dash") > 0.5
    assert page.locator('video[data-kind="dash"]').get_attribute("data-engine") == "dash.js"
    snap(page, "task-dash")


def test_task_page_follows_a_running_task_then_shows_the_player(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    ctx = emulator.app.state.ctx
    with ctx.db.write() as session:
        holds.add(session, stage="running")
    task_id = create_task(api, "480p", clip_url, storage_id)
    wait_for(api, task_id, until=lambda data: data["status"] == "running")
    page.goto(f"{UI}/tasks/{task_id}")
    expect(page.locator(".status-panel .badge")).to_have_text("running")
    expect(page.locator(".status-panel .timing-text")).to_contain_text("running")
    with ctx.db.write() as session:
        holds.release(session)
    ctx.wake_workers()
    expect(page.locator(".status-panel .badge")).to_have_text("success", timeout=30_000)
    assert play(page, "mp4") > 0.5


def play(page: Any, kind: str) -> float:
    """Wait until the player of `kind` has loaded the output's metadata; its duration."""
    selector = f'video[data-kind="{kind}"]'
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{selector}');"
        " return v && v.readyState > 0 && v.duration > 0; }",
        timeout=MEDIA_TIMEOUT_MS,
    )
    duration: float = page.locator(selector).evaluate("v => v.duration")
    return duration


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/storages", "cn-hz"),
        ("/templates", "MP4_264_360p"),
        ("/keys", "configured (EMULATOR_ACCESS_KEY_ID)"),
        ("/settings", "EMULATOR_WORKER_CONCURRENCY"),
    ],
)
def test_page_renders(page: Any, storage_id: str, snap: Snap, path: str, expected: str) -> None:
    page.goto(f"{UI}{path}")
    expect(page.locator("main")).to_contain_text(expected)
    expect(page.locator("nav a.active")).to_have_count(1)
    snap(page, path.strip("/"))


def test_settings_page_masks_secrets(page: Any, emulator: EmulatorServer) -> None:
    secret = emulator.settings.access_key_secret
    page.goto(f"{UI}/settings")
    row = page.locator('tr[data-setting="access_key_secret"] td.value')
    expect(row).to_have_text(secret[:4] + "*" * 28)
    assert secret not in page.content()
    settings_fields = type(emulator.settings).model_fields
    expect(page.locator("tr[data-setting]")).to_have_count(len(settings_fields))


def test_request_log_shows_signature_verdicts(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, snap: Snap
) -> None:
    api.call("GET", "/api/list_template", {})
    httpx.get(
        f"{emulator.base_url}/api/list_storage",
        headers={"Authorization": "Visionular AccessKeyId=EMULATORAKID0001, Signature=bad"},
    )
    page.goto(f"{UI}/requests")
    expect(page.locator('tr[data-verdict="ok"]', has_text="/api/list_template")).to_have_count(1)
    failed = page.locator('tr[data-verdict="fail"]', has_text="/api/list_storage")
    expect(failed).to_have_count(1)
    expect(failed.locator(".code")).to_have_text("1003")
    snap(page, "requests")

    api.call("GET", "/api/list_storage_types", {})
    expect(page.locator("tr[data-request-id]", has_text="list_storage_types")).to_have_count(1)


def test_storage_keys_never_reach_the_pages(
    page: Any, api: TranscodeClient, clip_url: str, emulator: EmulatorServer
) -> None:
    secret = "storage-secret-value-1234"
    params = {
        "region": "cn-hz",
        "type": "s3",
        "bucket": "keyed",
        "storage_ak": "AK-visible-no",
        "storage_sk": secret,
    }
    storage = api.call("POST", "/api/add_storage", params)["storage_id"]
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="pending")
    task_id = create_task(api, "480p", clip_url, storage)
    for path in ("/storages", f"/tasks/{task_id}"):
        page.goto(f"{UI}{path}")
        expect(page.locator("main")).to_contain_text(storage)
        assert secret not in page.content()
        assert "AK-visible-no" not in page.content()
