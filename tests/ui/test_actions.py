"""Acting on tasks in a real browser: cancel, retry, the new-task form, and code to copy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.control.samples import SAMPLES, SAMPLES_PATH
from emulator.db.models import Task
from emulator.errors import EmptyResult
from emulator.server import EmulatorServer
from emulator.services import holds, inspection
from tests.conftest import wait_for
from tests.ui.conftest import Snap

expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

UI = "/_emulator/ui"
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "transcode-emulator"
PARAMS = ("template_name", "input", "output", "storage_id")


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"encoder_preset": "ultrafast"}


def create_task(api: TranscodeClient, source: str, storage_id: str, output: str) -> str:
    return api.create_task("origin", source, output, storage_id).task_id


def failed_task(api: TranscodeClient, storage_id: str) -> str:
    """A task that ends at once: its input is not there (2001)."""
    task_id = create_task(api, "s3://inputs/missing.mp4", storage_id, "retry/out.mp4")
    assert wait_for(api, task_id)["status"] == "fail"
    return task_id


def stored(emulator: EmulatorServer, task_id: str) -> Task | None:
    with emulator.app.state.ctx.db.read() as session:
        return session.get(Task, task_id)


def task_ids(emulator: EmulatorServer) -> list[str]:
    with emulator.app.state.ctx.db.read() as session:
        return [task.task_id for task in inspection.recent(session=session, limit=100)]


def params_of(task: Task | None) -> dict[str, str]:
    assert task is not None
    return {name: getattr(task, name) for name in PARAMS}


def test_a_pending_task_is_cancelled_from_its_page(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="pending")
    task_id = create_task(api, clip_url, storage_id, "cancel/out.mp4")
    page.goto(f"{UI}/tasks/{task_id}")
    expect(page.locator('[data-action="retry"]')).to_have_count(0)
    page.locator('[data-action="cancel"]').click()

    expect(page).to_have_url(re.compile(rf"{UI}\?cancelled={task_id}$"))
    expect(page.locator(".notice.done")).to_contain_text(f"Task {task_id} cancelled")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    assert stored(emulator, task_id) is None  # a pending task is removed, as del_task does
    with pytest.raises(EmptyResult):
        api.query_task(task_id)


def test_a_pending_task_is_cancelled_from_the_tasks_list(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    failed = failed_task(api, storage_id)
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="pending")
    kept, cancelled = (create_task(api, clip_url, storage_id, f"list/{n}.mp4") for n in "ab")
    page.goto(UI)
    expect(page.locator(f'tr[data-task-id="{failed}"] [data-action="cancel"]')).to_have_count(0)
    page.locator(f'tr[data-task-id="{cancelled}"] [data-action="cancel"]').click()

    expect(page.locator(".notice.done")).to_contain_text(f"Task {cancelled} cancelled")
    expect(page.locator("tr[data-task-id]")).to_have_count(2)
    assert sorted(task_ids(emulator)) == sorted([kept, failed])


def test_a_running_task_is_cancelled_and_its_worker_removes_it(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="running")
    task_id = create_task(api, clip_url, storage_id, "cancel/running.mp4")
    wait_for(api, task_id, until=lambda data: data["status"] == "running")
    page.goto(f"{UI}/tasks/{task_id}")
    page.locator('[data-action="cancel"]').click()

    expect(page.locator(".notice.done")).to_contain_text(f"Task {task_id} cancelled")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    with pytest.raises(EmptyResult):  # hidden at once, as del_task hides a task in flight
        api.query_task(task_id)
    deadline = time.monotonic() + 30
    while stored(emulator, task_id) is not None:  # then removed once its worker stopped
        assert time.monotonic() < deadline, "the worker never removed the cancelled task"
        time.sleep(0.05)


def test_a_cancel_posted_for_a_finished_task_is_refused(
    emulator: EmulatorServer, api: TranscodeClient, storage_id: str
) -> None:
    task_id = failed_task(api, storage_id)
    answer = httpx.post(f"{emulator.base_url}{UI}/tasks/{task_id}/cancel", timeout=30)
    assert answer.status_code == 409
    assert "nothing to cancel" in answer.text
    assert api.query_task(task_id).status == "fail"


def test_a_finished_task_is_retried_and_both_pages_link_each_other(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, snap: Snap
) -> None:
    original = failed_task(api, storage_id)
    page.goto(f"{UI}/tasks/{original}")
    expect(page.locator('[data-action="cancel"]')).to_have_count(0)
    page.locator('[data-action="retry"]').click()

    expect(page).not_to_have_url(re.compile(rf"/tasks/{original}$"))
    again = page.url.rsplit("/", 1)[1]
    expect(page.locator(".retry-of a")).to_have_text(original)
    assert params_of(stored(emulator, again)) == params_of(stored(emulator, original))
    assert stored(emulator, again).retry_of == original  # type: ignore[union-attr]
    assert wait_for(api, again)["input"] == "s3://inputs/missing.mp4"

    page.goto(f"{UI}/tasks/{original}")
    expect(page.locator(".retried-as a")).to_have_text([again])
    page.locator(".retried-as a").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{again}$"))
    page.goto(f"{UI}/tasks/{original}")
    expect(page.locator('[data-action="retry"]')).to_be_visible()
    expect(page.locator("pre.snippet-code")).to_have_count(3)
    snap(page, "task-actions")


def test_a_retry_shows_create_tasks_error_when_the_storage_is_gone(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str
) -> None:
    original = failed_task(api, storage_id)
    api.del_storage(storage_id)
    page.goto(f"{UI}/tasks/{original}")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator('[data-action="retry"]').click()
    assert answer.value.status == 400
    alert = page.locator('.task-actions [role="alert"]')
    expect(alert).to_have_attribute("data-code", "1002")
    expect(alert).to_contain_text(f"storage {storage_id!r} does not exist")
    expect(page.locator("h1")).to_contain_text(original)  # still this task's page
    assert task_ids(emulator) == [original]


def test_the_form_creates_a_task_on_a_sample_that_succeeds(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, snap: Snap
) -> None:
    page.goto(UI)
    page.get_by_role("link", name="New task").click()
    expect(page).to_have_url(re.compile(rf"{UI}/tasks/new$"))
    expect(page.locator("#f-storage option")).to_have_count(1)
    expect(page.locator("#f-storage option")).to_contain_text(storage_id)
    expect(page.locator('#f-template optgroup[label="Built-in"] option')).to_contain_text(
        ["480p", "720p", "1080p", "origin", "MP4_264_360p"]
    )
    expect(page.locator("datalist#samples option")).to_have_count(len(SAMPLES))
    snap(page, "new-task")

    sample = f"{emulator.base_url}{SAMPLES_PATH}240p.mp4"
    page.select_option("#f-storage", storage_id)
    page.select_option("#f-template", "origin")
    page.get_by_role("button", name="240p.mp4").click()
    expect(page.locator("#f-input")).to_have_value(sample)
    page.fill("#f-output", "form/sample.mp4")
    page.get_by_role("button", name="Create task").click()

    expect(page).to_have_url(re.compile(rf"{UI}/tasks/\w+$"))
    task_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".status-panel .badge")).to_have_text("success", timeout=60_000)
    done = api.query_task(task_id)
    assert (done.status, done.input, done.template_name) == ("success", sample, "origin")
    assert params_of(stored(emulator, task_id))["output"] == "form/sample.mp4"


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        ("http://elsewhere.example/x.mp4", "http:// is not an object key"),
        ("../up.mp4", "must not contain a '..' segment"),
        ("", "output is required"),
    ],
    ids=["url-scheme", "dot-dot-key", "missing"],
)
def test_the_form_shows_create_tasks_error_and_keeps_the_values(
    page: Any,
    emulator: EmulatorServer,
    api: TranscodeClient,
    storage_id: str,
    snap: Snap,
    output: str,
    detail: str,
) -> None:
    sample = f"{emulator.base_url}{SAMPLES_PATH}240p.mp4"
    page.goto(f"{UI}/tasks/new")
    page.fill("#f-input", sample)
    page.fill("#f-output", output)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create task").click()

    params = {"template_name": "480p", "input": sample, "output": output, "storage_id": storage_id}
    envelope = api.request("POST", "/api/create_task", params).json()
    assert detail in envelope["detail"]
    assert answer.value.status == 400
    alert = page.locator('[role="alert"]')
    expect(alert).to_have_attribute("data-code", str(envelope["code"]))
    expect(alert).to_contain_text(envelope["detail"])  # word for word what the API says
    expect(page.locator("#f-input")).to_have_value(sample)
    expect(page.locator("#f-output")).to_have_value(output)
    expect(page.locator("#f-storage")).to_have_value(storage_id)
    assert task_ids(emulator) == []
    if output.startswith("http"):
        snap(page, "new-task-error")


def test_the_copied_code_creates_the_same_task(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    with emulator.app.state.ctx.db.write() as session:
        holds.add(session, stage="pending")  # no worker needed: the copies are what is tested
    task_id = create_task(api, clip_url, storage_id, "copied/out.mp4")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{UI}/tasks/{task_id}")
    expect(page.locator(".snippet h3")).to_have_text(
        ["curl (signed by the CLI)", "Python", "Go (net/http)"]
    )
    copied = {}
    for lang in ("curl", "python", "go"):
        button = page.locator(f'.snippet[data-lang="{lang}"] button.copy')
        button.click()
        expect(button).to_have_text("Copied")
        copied[lang] = page.evaluate("navigator.clipboard.readText()")
        assert copied[lang] == page.locator(f"#snippet-{lang}").text_content()
    expected = params_of(stored(emulator, task_id))

    made = [run_python(copied["python"]), run_go_request(copied["go"])]
    if CLI.exists():
        made.append(run_curl(copied["curl"]))
    for new_id in made:
        assert params_of(stored(emulator, new_id)) == expected


def clean_environment() -> dict[str, str]:
    """The snippets as a developer's shell runs them: no EMULATOR_* of the test run, the
    worktree's emulator package, the venv's CLI on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["PATH"] = f"{CLI.parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def run_curl(code: str) -> str:
    done = subprocess.run(
        ["bash", "-c", code], capture_output=True, text=True, env=clean_environment(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    assert envelope["code"] == 0, envelope
    task_id: str = envelope["data"]["task_id"]
    return task_id


def run_go_request(code: str) -> str:
    """No Go toolchain here: send the request the Go program builds (URL, Basic auth, body)."""
    url = re.search(r"http\.MethodPost, (\".*?\")", code)
    auth = re.search(r"SetBasicAuth\((\".*?\"), (\".*?\")\)", code)
    pairs = re.findall(r'^\t\t("[a-z_]+"):\s+(".*"),$', code, flags=re.M)
    assert url and auth and pairs
    body = {json.loads(k): json.loads(v) for k, v in pairs}
    response = httpx.post(
        json.loads(url[1]),
        json=body,
        auth=(json.loads(auth[1]), json.loads(auth[2])),
        timeout=30,
    )
    envelope = response.json()
    assert envelope["code"] == 0, envelope
    task_id: str = envelope["data"]["task_id"]
    return task_id
