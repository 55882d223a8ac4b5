"""Real tasks through the in-process worker: formats, codecs, sizes, logo, failures, cancel."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from emulator.services import holds, templates
from emulator.transcode.clips import make_clip, make_logo
from tests.conftest import temp_files, wait_for


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 2, "encoder_preset": "ultrafast"}


def ffprobe_url(url: str) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def video_of(info: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def run_task(
    api: TranscodeClient,
    storage_id: str,
    input_url: str,
    template: str,
    output: str = "out/video.mp4",
    **fields: Any,
) -> dict[str, Any]:
    if fields:
        api.call("POST", "/api/add_template", {"name": template, **fields})
    params = {
        "template_name": template,
        "input": input_url,
        "output": output,
        "storage_id": storage_id,
    }
    task_id = api.call("POST", "/api/create_task", params)["task_id"]
    return wait_for(api, task_id)


def upload(s3: Any, path: Path, key: str) -> str:
    s3.ensure_bucket("inputs")
    s3.upload_file(path, "inputs", key)
    return f"s3://inputs/{key}"


def test_mp4_h264_success_fields_and_presigned_output(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    data = run_task(api, storage_id, clip_url, "480p")
    assert (data["status"], data["err_code"], data["err_msg"]) == ("success", 0, "success")
    assert data["src_bitrate"] > 0 and data["dst_bitrate"] > 0 and data["progress"] == 100
    assert (data["width"], data["height"]) == (640, 480)
    assert 0.9 < data["duration"] < 1.2
    assert data["finish_time"] >= data["create_time"] and data["finish_time"] != 946684800
    response = httpx.get(data["output_url"])
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"
    info = ffprobe_url(data["output_url"])
    assert video_of(info)["codec_name"] == "h264"
    assert any(s["codec_type"] == "audio" and s["codec_name"] == "aac" for s in info["streams"])
    assert data["input_url"].startswith("http") and httpx.get(data["input_url"]).status_code == 200


def test_mp4_h265_is_tagged_hvc1(api: TranscodeClient, storage_id: str, clip_url: str) -> None:
    data = run_task(api, storage_id, clip_url, "hevc", vcodec="h265")
    video = video_of(ffprobe_url(data["output_url"]))
    assert (video["codec_name"], video["codec_tag_string"]) == ("hevc", "hvc1")


def test_hls_playlist_and_segments(
    api: TranscodeClient, storage_id: str, clip_url: str, s3: Any
) -> None:
    data = run_task(api, storage_id, clip_url, "hls", output="hls/index", format="hls")
    assert data["status"] == "success" and data["objkey"] == "hls/index.m3u8"
    playlist = httpx.get(data["output_url"]).text
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert segments and all("/" not in name for name in segments)
    listed = s3._client.list_objects_v2(Bucket="out", Prefix="hls/")["Contents"]
    assert {o["Key"] for o in listed} == {"hls/index.m3u8", *(f"hls/{s}" for s in segments)}
    assert video_of(ffprobe_url(data["output_url"]))["codec_name"] == "h264"


def test_flv(api: TranscodeClient, storage_id: str, clip_url: str) -> None:
    data = run_task(api, storage_id, clip_url, "flv", output="a.flv", format="flv")
    assert ffprobe_url(data["output_url"])["format"]["format_name"] == "flv"


def test_resolution_keeps_aspect_and_framerate(
    api: TranscodeClient, storage_id: str, s3: Any, tmp_path: Path
) -> None:
    wide = upload(s3, make_clip(tmp_path / "wide.mp4", size="320x180", audio=False), "wide.mp4")
    data = run_task(api, storage_id, wide, "w360", resolution="360p", framerate=10)
    video = video_of(ffprobe_url(data["output_url"]))
    assert (video["width"], video["height"]) == (640, 360)
    assert video["avg_frame_rate"] in ("10/1", "10")
    info = ffprobe_url(data["output_url"])
    assert not any(s["codec_type"] == "audio" for s in info["streams"])  # source had none


def test_exact_size(api: TranscodeClient, storage_id: str, clip_url: str) -> None:
    data = run_task(api, storage_id, clip_url, "exact", resolution="200x100")
    assert (data["width"], data["height"]) == (200, 100)


def test_logo_overlay_at_offset(
    api: TranscodeClient, storage_id: str, s3: Any, tmp_path: Path
) -> None:
    black = make_clip(tmp_path / "black.mp4", video_source="color=c=black", audio=False)
    source = upload(s3, black, "black.mp4")
    logo = upload(s3, make_logo(tmp_path / "logo.png", size="16x16", color="red"), "logo.png")
    data = run_task(
        api,
        storage_id,
        source,
        "logo",
        logo_path=logo,
        logo_size="16x16",
        logo_offset="8:8",
        quality=10,
    )
    frame = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            data["output_url"],
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    width = data["width"]

    def pixel(x: int, y: int) -> tuple[int, ...]:
        offset = (y * width + x) * 3
        return tuple(frame[offset : offset + 3])

    red, green, blue = pixel(15, 15)
    assert red > 150 and green < 90 and blue < 90
    assert max(pixel(60, 60)) < 60


def test_list_summary_counts_real_tasks(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    run_task(api, storage_id, clip_url, "480p")
    run_task(api, storage_id, clip_url, "720p")
    data = api.call("GET", "/api/list_summary", {"start_time": 1, "end_time": 0})
    assert data["num"] == 1 and data["regions"] == ["cn-hz"]
    (row,) = data["list"]
    assert (row["count_total"], row["count_sd"], row["count_hd"]) == (2, 1, 1)
    assert row["count_cn-hz_h264_hd"] == 1 and row["duration_total"] == 2
    assert row["time_stamp"] % 3600 == 0


@pytest.mark.parametrize(
    ("input_kind", "err_code", "words"),
    [
        ("missing", 2001, "download failed"),
        ("http404", 2001, "HTTP 404"),
        ("text", 2002, "not a decodable video"),
    ],
)
def test_input_failures(
    api: TranscodeClient,
    storage_id: str,
    s3: Any,
    tmp_path: Path,
    emulator: EmulatorServer,
    input_kind: str,
    err_code: int,
    words: str,
) -> None:
    if input_kind == "missing":
        url = "s3://inputs/does-not-exist.mp4"
        s3.ensure_bucket("inputs")
    elif input_kind == "http404":
        url = f"{emulator.base_url}/no/such/file.mp4"
    else:
        text = tmp_path / "notes.mp4"
        text.write_text("this is not a video\n" * 10)
        url = upload(s3, text, "notes.mp4")
    data = run_task(api, storage_id, url, "480p")
    assert (data["status"], data["err_code"]) == ("fail", err_code)
    assert words in data["err_msg"] and data["err_message"] == data["err_msg"]
    assert "\n" not in data["err_msg"] and data["output_url"] == ""
    listed = api.call(
        "GET", "/api/list_task", {"start_time": 1_000_000_000, "end_time": 9_999_999_999}
    )
    assert listed["list"][0]["message"] == data["err_msg"]


def test_invalid_stored_template_fails_2003(
    api: TranscodeClient, storage_id: str, clip_url: str, emulator: EmulatorServer
) -> None:
    with emulator.app.state.ctx.db.write() as session:  # stored behind the API's back
        template = templates.add(session=session, name="broken", fields={}, now=0)
        template.resolution = "huge"
        session.add(template)
    data = run_task(api, storage_id, clip_url, "broken")
    assert (data["status"], data["err_code"]) == ("fail", 2003)
    assert "resolution" in data["err_msg"]


def test_upload_failure_is_2004(api: TranscodeClient, clip_url: str, s3: Any) -> None:
    storage = api.call(
        "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "vanishing"}
    )["storage_id"]
    s3._client.delete_bucket(Bucket="vanishing")
    data = run_task(api, storage, clip_url, "480p")
    assert (data["status"], data["err_code"]) == ("fail", 2004)
    assert "upload" in data["err_msg"]


def test_logo_fetch_failure_is_2005(api: TranscodeClient, storage_id: str, clip_url: str) -> None:
    data = run_task(api, storage_id, clip_url, "nologo", logo_path="s3://inputs/nope.png")
    assert (data["status"], data["err_code"]) == ("fail", 2005)


def test_h265_in_flv_is_not_emulated_2007(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    data = run_task(api, storage_id, clip_url, "hflv", format="flv", vcodec="h265")
    assert (data["status"], data["err_code"]) == ("fail", 2007)


def test_stage_hold_and_cancel_while_running(
    api: TranscodeClient, storage_id: str, clip_url: str, emulator: EmulatorServer
) -> None:
    db = emulator.app.state.ctx.db
    with db.write() as session:
        holds.add(session, stage="running")
    try:
        task_id = api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": "480p",
                "input": clip_url,
                "output": "c.mp4",
                "storage_id": storage_id,
            },
        )["task_id"]
        data = wait_for(api, task_id, until=lambda d: d["status"] == "running")
        assert data["src_bitrate"] > 0
        api.call("DELETE", "/api/del_task", {"task_id": task_id})
        with pytest.raises(Exception, match="does not exist"):
            api.call("GET", "/api/query_task", {"task_id": task_id})
    finally:
        with db.write() as session:
            holds.release(session)
    worker = emulator.app.state.runtime.worker
    deadline = __import__("time").monotonic() + 5
    while worker.jobs and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.05)
    assert not worker.jobs
    assert temp_files(emulator.settings.data_dir) == []
    assert (
        api.call("GET", "/api/list_task", {"start_time": 1_000_000_000, "end_time": 9_999_999_999})[
            "total"
        ]
        == 0
    )


def test_del_finished_task(api: TranscodeClient, storage_id: str, clip_url: str) -> None:
    data = run_task(api, storage_id, clip_url, "480p")
    api.call("DELETE", "/api/del_task", {"task_id": data["task_id"]})
    with pytest.raises(Exception, match="does not exist"):
        api.call("GET", "/api/query_task", {"task_id": data["task_id"]})


def test_another_workers_sweep_keeps_a_live_idle_workers_temp_dir(
    api: TranscodeClient, emulator: EmulatorServer, storage_id: str, clip_url: str
) -> None:
    """A second worker process on the same data dir (compose's `worker`) sweeps tmp/ at start
    and every few seconds: it must leave the live worker's dir alone even while that one is
    idle, and remove a dead worker's."""
    from emulator.worker import Worker

    ctx = emulator.app.state.ctx
    live = emulator.app.state.runtime.worker
    dead = live.tmp_root / "gone-worker"
    (dead / "task-x").mkdir(parents=True)
    (dead / "task-x" / ".input.part").write_bytes(b"left by a kill -9")
    os.utime(dead, (time.time() - 120, time.time() - 120))
    other = Worker(settings=emulator.settings, db=ctx.db, objects=ctx.objects)
    other.sweep_tmp()
    assert live.tmp_dir.is_dir()
    assert not dead.exists()
    task = api.create_task("480p", clip_url, "after-sweep.mp4", storage_id).task_id
    assert wait_for(api, task)["status"] == "success"
