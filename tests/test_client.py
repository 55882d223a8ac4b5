"""The Python client against a live emulator: every route typed, every error class, helpers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from emulator.client import OutputUnavailable, TranscodeClient, playlist_references
from emulator.client_models import Task
from emulator.errors import (
    ApiError,
    AuthFail,
    BadParam,
    Duplicated,
    EmptyResult,
    InternalError,
    LackParam,
    OperationFail,
)
from emulator.server import EmulatorServer


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 1, "encoder_preset": "ultrafast"}


def test_storage_routes(api: TranscodeClient) -> None:
    assert api.list_storage_types().list == ["s3", "oss"]
    created = api.add_storage("cn-hz", "oss", "typed", prefix="p", storage_sk="sk")
    [storage] = api.list_storage().list
    assert (storage.storage_id, storage.bucket, storage.prefix, storage.type) == (
        created.storage_id,
        "typed",
        "p",
        "oss",
    )
    api.del_storage(created.storage_id)
    assert api.list_storage().num == 0


def test_template_routes(api: TranscodeClient) -> None:
    added = api.add_template("typed", format="hls", quality=7, resolution="360p")
    assert (added.name, added.format, added.quality, added.template_type) == (
        "typed",
        "hls",
        7,
        "custom",
    )
    assert api.query_template("typed") == added
    updated = api.update_template("typed", quality=3)
    assert (updated.quality, updated.format) == (3, "hls")
    names = [t.name for t in api.list_template().list]
    assert names[:4] == ["480p", "720p", "1080p", "origin"] and names[-1] == "typed"
    api.del_template("typed")
    with pytest.raises(EmptyResult):
        api.query_template("typed")


def test_task_routes(api: TranscodeClient, clip_url: str, storage_id: str) -> None:
    created = api.create_task("origin", clip_url, "typed/out.mp4", storage_id)
    task = api.wait_for_task(created.task_id, timeout=60)
    assert isinstance(task, Task) and task.succeeded and task.is_final
    assert (task.objkey, task.bucket, task.err_msg, task.err_message) == (
        "typed/out.mp4",
        "out",
        "success",
        "success",
    )
    assert task.dst_bitrate > 0 and task.output_url.startswith("http")
    now = time.time()
    listed = api.list_task(now - 60, now + 60, status="success", count=10)
    assert [(t.task_id, t.message) for t in listed.list] == [(task.task_id, "Success")]
    assert listed.total == 1
    summary = api.list_summary(1, 0)
    assert summary.num == 1 and summary.list[0].count_total == 1
    assert summary.regions == ["cn-hz"]
    api.del_task(task.task_id)
    with pytest.raises(EmptyResult, match=task.task_id):
        api.query_task(task.task_id)


def test_download_output_mp4(
    api: TranscodeClient, clip_url: str, storage_id: str, tmp_path: Path
) -> None:
    task_id = api.create_task("origin", clip_url, "dl/out.mp4", storage_id).task_id
    api.wait_for_task(task_id, timeout=60)
    saved = api.download_output(task_id, tmp_path)
    assert saved == tmp_path / "out.mp4"
    assert saved.read_bytes()[4:8] == b"ftyp"
    assert (
        api.download_output(task_id, tmp_path / "named.mp4").stat().st_size == saved.stat().st_size
    )


def test_download_output_hls_brings_its_segments(
    api: TranscodeClient, clip_url: str, storage_id: str, tmp_path: Path
) -> None:
    api.add_template("hls", format="hls")
    task_id = api.create_task("hls", clip_url, "hls/index", storage_id).task_id
    api.wait_for_task(task_id, timeout=60)
    playlist = api.download_output(task_id, tmp_path)
    assert playlist.name == "index.m3u8"
    segments = [
        ref for ref, _ in playlist_references("http://x/hls/index.m3u8", playlist.read_text())
    ]
    assert segments and all((tmp_path / ref).stat().st_size > 0 for ref in segments)


def test_download_output_of_an_unfinished_task(
    api: TranscodeClient, clip_url: str, storage_id: str, tmp_path: Path
) -> None:
    with api.control.hold("pending"):
        task_id = api.create_task("origin", clip_url, "x.mp4", storage_id).task_id
        with pytest.raises(OutputUnavailable, match="pending"):
            api.download_output(task_id, tmp_path)


def test_playlist_references_stay_below_the_playlist() -> None:
    text = "\n".join(
        [
            "#EXTM3U",
            '#EXT-X-MAP:URI="init.mp4"',
            "#EXTINF:1.0,",
            "seg0.ts",
            "../escape.ts",
            "/abs.ts",
            "https://cdn.example/x.ts",
            "v1/index.m3u8",
        ]
    )
    assert playlist_references("http://h/b/p/index.m3u8?X-Amz-Signature=1", text) == [
        ("init.mp4", "http://h/b/p/init.mp4"),
        ("seg0.ts", "http://h/b/p/seg0.ts"),
        ("v1/index.m3u8", "http://h/b/p/v1/index.m3u8"),
    ]


@pytest.mark.parametrize(
    ("error", "call"),
    [
        (LackParam, lambda api: api.add_storage("cn-hz", "s3", "")),
        (BadParam, lambda api: api.add_template("bad", quality=11)),
        (EmptyResult, lambda api: api.query_task("20200101000000" + "0" * 18)),
        (OperationFail, lambda api: api.del_template("480p")),
        (Duplicated, lambda api: api.add_template("480p")),
    ],
)
def test_each_code_raises_its_class(api: TranscodeClient, error: type[ApiError], call: Any) -> None:
    with pytest.raises(error) as raised:
        call(api)
    exc = raised.value
    assert (exc.code, exc.msg) == (error.code, error.msg)
    assert exc.detail and len(exc.request_id or "") == 32


def test_auth_fail(emulator: EmulatorServer, api: TranscodeClient) -> None:
    with (
        TranscodeClient(emulator.base_url, emulator.settings.access_key_id, "w" * 32) as bad,
        pytest.raises(AuthFail, match="signature mismatch") as raised,
    ):
        bad.list_storage()
    assert raised.value.code == 1003


def test_internal_error(api: TranscodeClient) -> None:
    api.control.fail_route("/api/list_template", 1000)
    with pytest.raises(InternalError) as raised:
        api.list_template()
    assert (raised.value.code, raised.value.msg) == (1000, "internal error")


def test_legacy_scheme_client(emulator: EmulatorServer, api: TranscodeClient) -> None:
    s = emulator.settings
    with TranscodeClient(
        emulator.base_url, s.access_key_id, s.access_key_secret, scheme="legacy"
    ) as legacy:
        assert legacy.add_template("legacy", quality=6).quality == 6
        response = legacy.request("GET", "/api/list_storage")
        assert response.headers["X-Emulator-Auth-Scheme"] == "legacy"


def test_results_accept_the_real_services_shapes() -> None:
    """The reference's query_task example: err_message only, ints where we send floats."""
    task = Task.model_validate(
        {
            "bucket": "visionular-service",
            "create_time": 1593120830,
            "dst_bitrate": 211.062,
            "err_code": 0,
            "err_message": "success",
            "finish_time": 1593120845,
            "status": "success",
            "task_id": "20200625143350132744cc66d4bb4532",
            "template_name": "MP4_264_360p",
            "unknown_field": 1,
        }
    )
    assert (task.err_msg, task.succeeded) == ("success", True)
