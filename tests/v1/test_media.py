"""v1 tasks that really run: the v1 result fields, bitrate mode and expression logo offsets,
checked with ffprobe on the outputs the worker uploaded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.transcode.clips import make_clip, make_logo


@pytest.fixture
def storage(v1: TranscodeClientV1) -> str:
    return v1.add_storage(region="cn-hz", type="s3", bucket="out")


def run(v1: TranscodeClientV1, storage: str, template: str, source: str, output: str) -> dict:
    task_id = v1.create_task(
        template_name=template, storage_id=storage, input=source, output=output
    )
    task = v1.wait_for_task(task_id)
    assert task["status"] == "succeeded", task["message"]
    return task


def fetch(s3: Any, key: str, tmp_path: Path) -> Path:
    target = tmp_path / key.replace("/", "_")
    s3.download_file("out", key, target, max_bytes=50_000_000)
    return target


def ffprobe_json(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def video_kbps(path: Path) -> float:
    streams = ffprobe_json("-select_streams", "v:0", "-show_entries", "stream=bit_rate", str(path))
    return int(streams["streams"][0]["bit_rate"]) / 1000


def chroma_red(path: Path, crop: str) -> float:
    """Mean V (red-difference chroma) of `crop` (w:h:x:y) in the first frame: 128 grey, ~240 red."""
    report = ffprobe_json(
        "-f",
        "lavfi",
        "-i",
        f"movie={path},crop={crop},signalstats",
        "-read_intervals",
        "%+#1",
        "-show_entries",
        "frame_tags=lavfi.signalstats.VAVG",
    )
    return float(report["frames"][0]["tags"]["lavfi.signalstats.VAVG"])


def test_succeeded_task_in_v1_shape(
    v1: TranscodeClientV1, api: TranscodeClient, storage: str, clip_url: str
) -> None:
    task = run(v1, storage, "480p", clip_url, "s3://out/v1/shape.mp4")
    assert (
        task
        | {
            "status": "succeeded",
            "code": 0,
            "progress": 100.0,
            "source_resolution": "160x120",
            "source_video_codec": "h264",
            "source_audio_codec": "aac",
            "output_resolution": "640x480",
            "output_video_codec": "h264",
            "output_audio_codec": "aac",
            "output_audio_samplerate": 44100,
        }
        == task
    )
    assert task["source_size"] > 0 and task["output_size"] == task["output_media_size"] > 0
    assert task["ratio"] == round(task["output_size"] / task["source_size"], 4)
    assert task["created_time"] <= task["started_time"] <= task["finished_time"]
    assert 0 < task["spend_time"] < 60 and task["duration"] == pytest.approx(1, abs=0.2)
    (group,) = task["output_groups"]
    assert group["output"] == "s3://out/v1/shape.mp4" and group["output_url"].startswith("http")
    assert api.call("GET", "/api/query_task", {"task_id": task["task_id"]})["status"] == "success"
    listed = v1.list_task(start_time=1_000_000_000, end_time=9_999_999_999, status="succeeded")
    assert [t["task_id"] for t in listed["list"]] == [task["task_id"]]


def test_video_bitrate_switches_to_bitrate_mode(
    v1: TranscodeClientV1, storage: str, s3: Any, tmp_path: Path
) -> None:
    busy = make_clip(tmp_path / "busy.mp4", size="320x240", rate=25, duration=2, audio=False)
    s3.ensure_bucket("inputs")
    s3.upload_file(busy, "inputs", "busy.mp4")
    v1.add_template("crf", quality=10)
    v1.add_template("abr", quality=10, video_bitrate=150)
    crf = run(v1, storage, "crf", "s3://inputs/busy.mp4", "crf.mp4")
    abr = run(v1, storage, "abr", "s3://inputs/busy.mp4", "abr.mp4")
    crf_kbps = video_kbps(fetch(s3, "crf.mp4", tmp_path))
    abr_kbps = video_kbps(fetch(s3, "abr.mp4", tmp_path))
    assert 75 < abr_kbps < 200, abr_kbps
    assert crf_kbps > 1.5 * abr_kbps, (crf_kbps, abr_kbps)
    assert abr["output_video_bitrate"] == pytest.approx(abr_kbps, rel=0.01)
    assert crf["output_video_bitrate"] == pytest.approx(crf_kbps, rel=0.01)


def test_expression_logo_offset_centres_the_logo(
    v1: TranscodeClientV1, storage: str, s3: Any, tmp_path: Path
) -> None:
    black = make_clip(tmp_path / "black.mp4", video_source="color=c=black", audio=False)
    logo = make_logo(tmp_path / "logo.png", size="16x16", color="red")
    s3.ensure_bucket("inputs")
    s3.upload_file(black, "inputs", "black.mp4")
    s3.upload_file(logo, "inputs", "logo.png")
    v1.add_template(
        "centred",
        logo_path="s3://inputs/logo.png",
        logo_size="16x16",
        logo_offset="x=(W-w)/2:y=(H-h)/2",
    )
    run(v1, storage, "centred", "s3://inputs/black.mp4", "centred.mp4")
    output = fetch(s3, "centred.mp4", tmp_path)
    # 160x120 output: the logo covers 72..88 x 52..68; sample inside it and in the corners.
    assert chroma_red(output, "8:8:76:56") > 200
    assert chroma_red(output, "8:8:0:0") < 140
    assert chroma_red(output, "8:8:152:112") < 140


def test_each_thumbnail_has_its_object_and_presigned_url(
    v1: TranscodeClientV1, storage: str, s3: Any, tmp_path: Path
) -> None:
    """thumbnail {start_point 0, interval 1, number 3}: three JPEGs, each listed in the jpg
    output group with `output` and its own `output_url`, all three downloadable."""
    three_s = make_clip(tmp_path / "three.mp4", duration=3, audio=False)
    s3.ensure_bucket("inputs")
    s3.upload_file(three_s, "inputs", "three.mp4")
    v1.add_template("thumbs", thumbnail={"start_point": 0, "interval": 1, "number": 3})
    task = run(v1, storage, "thumbs", "s3://inputs/three.mp4", "s3://out/t/clip.mp4")
    video, pictures = task["output_groups"]
    assert video["output"] == "s3://out/t/clip.mp4"
    assert pictures["format"] == "jpg"
    names = [f"s3://out/t/clip_thumb_0000{n}.jpg" for n in (1, 2, 3)]
    assert [file["output"] for file in pictures["files"]] == names
    urls = [file["output_url"] for file in pictures["files"]]
    assert len(set(urls)) == 3
    for url in urls:
        answer = httpx.get(url)
        assert answer.status_code == 200
        assert answer.content[:3] == b"\xff\xd8\xff"  # a JPEG
