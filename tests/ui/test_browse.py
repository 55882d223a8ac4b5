"""Objects, snapshots and inbox pages in a real browser: each action clicked, its effect checked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from emulator.services import inbox, snapshots
from emulator.transcode.clips import make_logo
from tests.conftest import wait_for
from tests.ui.conftest import Snap
from tests.ui.test_dashboard import add_template, create_task, play

expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

UI = "/_emulator/ui"
EVIL = {"Origin": "http://evil.example"}


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"encoder_preset": "ultrafast"}


@pytest.fixture
def no_snapshots(emulator: EmulatorServer) -> Iterator[None]:
    """Snapshots outlive a reset: each test starts and ends without any."""
    runtime = emulator.app.state.runtime

    def drop_all() -> None:
        for info in snapshots.list_snapshots(runtime=runtime):
            snapshots.delete(runtime=runtime, name=info.name)

    drop_all()
    yield
    drop_all()


def snapshot_names(emulator: EmulatorServer) -> list[str]:
    return [i.name for i in snapshots.list_snapshots(runtime=emulator.app.state.runtime)]


def storage_ids(api: TranscodeClient) -> list[str]:
    return sorted(storage.storage_id for storage in api.list_storage().list)


def accept_dialogs(page: Any) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


# Objects ------------------------------------------------------------------------------------


def test_browse_bucket_then_folder_then_play_the_hls_output(
    page: Any,
    emulator: EmulatorServer,
    api: TranscodeClient,
    storage_id: str,
    clip_url: str,
    s3: Any,
    snap: Snap,
) -> None:
    task_id = create_task(api, add_template(emulator, "hls"), clip_url, storage_id)
    assert wait_for(api, task_id)["status"] == "success"

    page.goto(f"{UI}/objects")
    expect(page.locator("nav a.active")).to_have_text("Objects")
    bucket = page.locator('tr[data-bucket="out"]')
    expect(bucket).to_contain_text(storage_id)
    expect(page.locator('tr[data-bucket="inputs"]')).to_be_visible()
    snap(page, "objects")

    bucket.get_by_role("link", name="out").click()
    folder = page.locator('tr[data-folder="ui/"]')
    expect(folder).to_be_visible()
    snap(page, "objects-bucket")
    folder.get_by_role("link").click()
    playlist = page.locator('tr[data-key="ui/out.m3u8"]')
    expect(playlist).to_contain_text("application/vnd.apple.mpegurl")
    expect(page.locator("tr.object", has_text=".ts").first).to_contain_text("video/mp2t")
    expect(page.locator(".crumbs a")).to_have_text(["buckets", "out", "ui"])
    expect(page.locator("nav a.active")).to_have_attribute("href", f"{UI}/objects")

    href = playlist.locator("a.download").get_attribute("href")
    stored = s3.list_page("out", prefix="ui/out.m3u8").objects[0]
    downloaded = httpx.get(href, timeout=30)
    assert downloaded.status_code == 200
    assert len(downloaded.content) == stored.size
    assert downloaded.content.startswith(b"#EXTM3U")

    playlist.get_by_role("link", name="out.m3u8").click()
    expect(page.locator(".object-meta")).to_contain_text("s3://out/ui/out.m3u8")
    assert 0.5 < play(page, "hls") < 2
    assert page.locator('video[data-kind="hls"]').get_attribute("data-engine") == "hls.js"
    expect(page.locator("a.download")).to_have_count(1)
    snap(page, "object-hls")


def test_an_image_object_shows_as_an_image_with_its_download_link(
    page: Any, api: TranscodeClient, s3: Any, tmp_path: Path, snap: Snap
) -> None:
    image = make_logo(tmp_path / "thumb.jpg", size="64x48", color="blue")
    s3.ensure_bucket("thumbs")
    s3.upload_file(image, "thumbs", "shots/first shot é.jpg")  # a key that needs quoting

    page.goto(f"{UI}/objects/thumbs?prefix=shots/")
    page.get_by_role("link", name="first shot é.jpg").click()
    shown = page.locator("img.object-image")
    expect(shown).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.object-image').naturalWidth === 64")
    expect(page.locator(".object-meta")).to_contain_text("s3://thumbs/shots/first shot é.jpg")
    expect(page.locator(".object-meta")).to_contain_text("image/jpeg")
    expect(page.locator(".object-meta")).to_contain_text(f"{image.stat().st_size} bytes")
    assert page.locator("video").count() == 0
    href = page.locator("a.download").get_attribute("href")
    assert httpx.get(href, timeout=30).content == image.read_bytes()
    snap(page, "object-image")


def test_a_dash_manifest_plays_on_its_object_page(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    task_id = create_task(api, add_template(emulator, "dash"), clip_url, storage_id)
    assert wait_for(api, task_id)["status"] == "success"
    page.goto(f"{UI}/objects/out/ui/out.mpd")
    assert play(page, "dash") > 0.5
    assert page.locator('video[data-kind="dash"]').get_attribute("data-engine") == "dash.js"


def test_a_bucket_listing_is_paginated(
    page: Any, api: TranscodeClient, s3: Any, tmp_path: Path
) -> None:
    s3.ensure_bucket("many")
    for n in range(3):
        (tmp_path / f"{n}.txt").write_text(f"object {n}")
        s3.upload_file(tmp_path / f"{n}.txt", "many", f"k{n}.txt")

    page.goto(f"{UI}/objects/many?limit=2")
    expect(page.locator("tr.object")).to_have_count(2)
    page.locator("a.next-page").click()
    expect(page.locator("tr.object")).to_have_count(1)
    expect(page.locator('tr[data-key="k2.txt"]')).to_contain_text("text/plain")
    expect(page.locator("a.next-page")).to_have_count(0)
    page.locator("a.first-page").click()
    expect(page.locator('tr[data-key="k0.txt"]')).to_be_visible()


def test_a_missing_bucket_is_an_error_page(page: Any, api: TranscodeClient) -> None:
    response = page.goto(f"{UI}/objects/no-such-bucket")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("code 1004")
    expect(page.locator(".err.big")).to_contain_text("no such bucket")


# Snapshots ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_snapshots")
def test_save_restore_and_delete_a_snapshot_from_the_page(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, snap: Snap
) -> None:
    accept_dialogs(page)
    kept = api.add_storage("cn-hz", "s3", "kept").storage_id
    page.goto(f"{UI}/snapshots")
    expect(page.locator(".empty")).to_contain_text("No snapshots yet")
    page.get_by_label("name").fill("before")
    page.get_by_role("button", name="Save snapshot").click()
    expect(page.locator(".notice")).to_have_text("Saved snapshot 'before'.")
    row = page.locator('tr[data-snapshot="before"]')
    expect(row.locator("td").nth(3)).to_have_text("1")  # storages
    assert snapshot_names(emulator) == ["before"]
    snap(page, "snapshots")

    api.add_storage("cn-hz", "s3", "later")
    assert len(storage_ids(api)) == 2
    row.get_by_role("button", name="Restore").click()
    expect(page.locator(".notice")).to_have_text("Restored snapshot 'before'.")
    assert storage_ids(api) == [kept]

    page.locator('tr[data-snapshot="before"]').get_by_role("button", name="Delete").click()
    expect(page.locator(".notice")).to_have_text("Deleted snapshot 'before'.")
    expect(page.locator("tr[data-snapshot]")).to_have_count(0)
    assert snapshot_names(emulator) == []


@pytest.mark.usefixtures("no_snapshots")
def test_an_invalid_snapshot_name_is_shown_on_the_form(
    page: Any, emulator: EmulatorServer, api: TranscodeClient
) -> None:
    page.goto(f"{UI}/snapshots")
    page.get_by_label("name").fill("no/slashes")
    page.get_by_role("button", name="Save snapshot").click()
    expect(page.locator(".form-error")).to_contain_text("(code 1002)")
    expect(page.locator(".form-error")).to_contain_text("is not a snapshot name")
    expect(page.get_by_label("name")).to_have_value("no/slashes")
    assert snapshot_names(emulator) == []


# Inbox --------------------------------------------------------------------------------------


def test_an_inbox_shows_requests_masked_and_pretty_then_clears(
    page: Any, emulator: EmulatorServer, api: TranscodeClient, snap: Snap
) -> None:
    accept_dialogs(page)
    body = {"task_id": "t-1", "status": "success", "nested": {"n": 1}}
    posted = httpx.post(
        f"{emulator.base_url}/_emulator/inbox/demo",
        json=body,
        headers={"Authorization": "Bearer inbox-secret-token"},
        timeout=30,
    )
    assert posted.status_code == 200

    page.goto(f"{UI}/inbox")
    expect(page.locator('tr[data-inbox="demo"] .count')).to_have_text("1")
    expect(page.locator(".receive-url").first).to_contain_text("/_emulator/inbox/")
    snap(page, "inboxes")
    page.get_by_role("link", name="demo").click()

    expect(page.locator(".receive-url")).to_have_text(
        f"{emulator.settings.api_base_url}/_emulator/inbox/demo"
    )
    entry = page.locator("tr[data-entry]")
    expect(entry).to_have_count(1)
    expect(entry.locator(".method")).to_have_text("POST")
    expect(entry.locator(".headers")).to_contain_text("Bearer ***")
    pretty = entry.locator("pre.json").inner_text()
    assert re.search(r'\n  "nested": \{\n    "n": 1\n  \}', pretty), pretty
    assert "inbox-secret-token" not in page.content()
    snap(page, "inbox")

    page.get_by_role("button", name="Clear this inbox").click()
    expect(page.locator(".notice")).to_have_text("Cleared 1 request.")
    expect(page.locator("tr[data-entry]")).to_have_count(0)
    with emulator.app.state.ctx.db.read() as session:
        assert inbox.read(session, name="demo") == []


def test_a_request_appears_on_the_open_inbox_page_without_reload(
    page: Any, emulator: EmulatorServer, api: TranscodeClient
) -> None:
    page.goto(f"{UI}/inbox/live")
    expect(page.locator(".empty")).to_contain_text("No requests in this inbox")
    page.evaluate("window.stillThisPage = true")
    httpx.put(f"{emulator.base_url}/_emulator/inbox/live", content="plain text", timeout=30)
    entry = page.locator("tr[data-entry]")
    expect(entry.locator(".method")).to_have_text("PUT")
    expect(entry.locator(".body pre")).to_have_text("plain text")
    expect(page.get_by_role("button", name="Clear this inbox")).to_be_visible()
    assert page.evaluate("window.stillThisPage") is True


def test_inboxes_are_listed_newest_first(
    page: Any, emulator: EmulatorServer, api: TranscodeClient
) -> None:
    for name in ("older", "newer", "newer"):
        httpx.post(f"{emulator.base_url}/_emulator/inbox/{name}", content=b"x", timeout=30)
    page.goto(f"{UI}/inbox")
    names = page.locator("tr[data-inbox]").evaluate_all("rows => rows.map(r => r.dataset.inbox)")
    assert names == ["newer", "older"]
    expect(page.locator('tr[data-inbox="newer"] .count')).to_have_text("2")


# Cross-site posts ---------------------------------------------------------------------------


@pytest.mark.usefixtures("no_snapshots")
@pytest.mark.parametrize(
    ("path", "form"),
    [
        pytest.param("/snapshots", {"name": "evil"}, id="save"),
        pytest.param("/snapshots/base/restore", None, id="restore"),
        pytest.param("/snapshots/base/delete", None, id="delete"),
    ],
)
def test_a_cross_site_snapshot_post_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient, path: str, form: Any
) -> None:
    snapshots.save(runtime=emulator.app.state.runtime, name="base")
    before = api.add_storage("cn-hz", "s3", "after-base").storage_id
    response = httpx.post(f"{emulator.base_url}{UI}{path}", data=form, headers=EVIL, timeout=30)
    assert response.status_code == 403
    assert "cross-site" in response.json()["detail"]
    assert snapshot_names(emulator) == ["base"]
    assert storage_ids(api) == [before]  # not restored


def test_a_cross_site_inbox_clear_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient
) -> None:
    httpx.post(f"{emulator.base_url}/_emulator/inbox/demo", json={"a": 1}, timeout=30)
    url = f"{emulator.base_url}{UI}/inbox/demo/clear"
    response = httpx.post(url, headers=EVIL, timeout=30)
    assert response.status_code == 403
    with emulator.app.state.ctx.db.read() as session:
        assert len(inbox.read(session, name="demo")) == 1
