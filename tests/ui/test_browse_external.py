"""The objects and snapshots pages with an external S3 (EMULATOR_S3_ENDPOINT_URL): boto3 only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from emulator.services import snapshots
from emulator.storage.embedded import EmbeddedS3
from emulator.storage.store import ObjectStore

expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

UI = "/_emulator/ui"


@pytest.fixture(scope="module")
def external_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    """An S3 server of its own, which the emulator reaches as any external endpoint."""
    server = EmbeddedS3(port=0, data_dir=tmp_path_factory.mktemp("external-s3"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def emulator_settings(external_s3: EmbeddedS3) -> dict[str, Any]:
    return {"worker_concurrency": 0, "s3_endpoint_url": external_s3.endpoint_url}


def test_an_external_bucket_is_browsed_and_downloaded(
    page: Any, api: TranscodeClient, external_s3: EmbeddedS3, tmp_path: Path
) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"not really an mp4")
    store = ObjectStore(endpoint_url=external_s3.endpoint_url)
    store.ensure_bucket("elsewhere")
    store.upload_file(source, "elsewhere", "deep/clip.mp4")

    page.goto(f"{UI}/objects")
    expect(page.locator(".page-head")).to_contain_text(external_s3.endpoint_url)
    page.locator('tr[data-bucket="elsewhere"]').get_by_role("link").click()
    page.locator('tr[data-folder="deep/"]').get_by_role("link").click()
    page.get_by_role("link", name="clip.mp4").click()
    expect(page.locator(".object-meta")).to_contain_text("video/mp4")
    expect(page.locator('video[data-kind="mp4"]')).to_have_count(1)
    href = page.locator("a.download").get_attribute("href")
    assert href.startswith(external_s3.endpoint_url)
    assert httpx.get(href, timeout=30).content == source.read_bytes()


def test_saving_a_snapshot_is_refused_on_the_form(
    page: Any, emulator: EmulatorServer, api: TranscodeClient
) -> None:
    page.goto(f"{UI}/snapshots")
    page.get_by_label("name").fill("external")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Save snapshot").click()
    assert answer.value.status == 409
    expect(page.locator(".form-error")).to_contain_text("(code 1005)")
    expect(page.locator(".form-error")).to_contain_text("EMULATOR_S3_ENDPOINT_URL")
    assert snapshots.list_snapshots(runtime=emulator.app.state.runtime) == []
