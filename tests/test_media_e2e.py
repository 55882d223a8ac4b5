"""Media features through a real emulator: /api/create_task with a current-generation template,
outputs fetched from the embedded S3 the way a player would (manifest first, then what it names).

The emulator runs with EMULATOR_CONTROL=off: the AES-128 key route must answer anyway.
"""

from __future__ import annotations

import re
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.db.models import Task
from emulator.server import EmulatorServer
from emulator.services import templates
from emulator.transcode.clips import make_clip
from emulator.transcode.probe import mpd_segments, playlist_segments
from tests.conftest import wait_for

BUCKET = "media-out"
MAX_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"control": "off", "encoder_preset": "ultrafast"}


@pytest.fixture(scope="module")
def client(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """A signed client (no reset: the control API is off in this module)."""
    settings = emulator.settings
    with TranscodeClient(
        emulator.base_url, settings.access_key_id, settings.access_key_secret
    ) as signed:
        yield signed


@pytest.fixture(scope="module")
def storage(client: TranscodeClient) -> str:
    params = {"region": "cn-hz", "type": "s3", "bucket": BUCKET, "prefix": "vod"}
    storage_id: str = client.call("POST", "/api/add_storage", params)["storage_id"]
    return storage_id


@pytest.fixture(scope="module")
def source(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 3 s 320x240 clip at 25 fps in the embedded S3."""
    clip = make_clip(
        tmp_path_factory.mktemp("e2e") / "clip.mp4", size="320x240", rate=25, duration=3
    )
    objects = emulator.app.state.ctx.objects
    objects.ensure_bucket("inputs")
    objects.upload_file(clip, "inputs", "media.mp4")
    return "s3://inputs/media.mp4"


def run_task(
    emulator: EmulatorServer,
    client: TranscodeClient,
    *,
    storage: str,
    source: str,
    output: str,
    fields: dict[str, Any],
    extra: dict[str, Any],
) -> tuple[dict[str, Any], Task]:
    """Add a template the way the v1 API stores it, run a task through /api/, wait for its end."""
    name = f"media-{time.time_ns()}"
    with emulator.app.state.ctx.db.write() as session:
        templates.add(session=session, name=name, fields=fields, extra=extra, now=time.time())
    params = {"template_name": name, "input": source, "output": output, "storage_id": storage}
    task_id = client.call("POST", "/api/create_task", params)["task_id"]
    data = wait_for(client, task_id, timeout_s=90)
    with emulator.app.state.ctx.db.read() as session:
        task = session.get(Task, task_id)
        assert task is not None
        session.expunge(task)
    return data, task


def mirror(emulator: EmulatorServer, key: str, into: Path) -> list[Path]:
    """Download `key` and, for a manifest, everything it references (a missing one fails)."""
    objects = emulator.app.state.ctx.objects
    folder = key.rpartition("/")[0]
    local = into / key.rpartition("/")[2]
    objects.download_file(BUCKET, key, local, max_bytes=MAX_BYTES)
    fetched = [local]
    pending = [local]
    while pending:
        manifest = pending.pop()
        if manifest.suffix not in (".m3u8", ".mpd"):
            continue
        names = mpd_segments(manifest) if manifest.suffix == ".mpd" else []
        if manifest.suffix == ".m3u8":
            names = _playlist_references(manifest)
        for path in names:
            if not path.exists():
                objects.download_file(BUCKET, f"{folder}/{path.name}", path, max_bytes=MAX_BYTES)
                fetched.append(path)
                pending.append(path)
    return fetched


def _playlist_references(playlist: Path) -> list[Path]:
    text = playlist.read_text()
    names = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    names += [line for line in text.splitlines() if line and not line.startswith("#")]
    return [playlist.parent / name for name in names]


def decoded_frames(media: Path, *extra: str) -> int:
    done = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(media)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    counts = [int(line) for line in done.stdout.split() if line.isdigit()]
    return counts[0] if done.returncode == 0 and counts else -1  # a master: its first variant


def test_hls_ladder_with_thumbnails_lands_beside_the_output(
    emulator: EmulatorServer, client: TranscodeClient, storage: str, source: str, tmp_path: Path
) -> None:
    extra = {
        "adaptive_streams": [
            {"resolution": "240p", "video_bitrate": 400},
            {"resolution": "120p", "quality": 4},
        ],
        "seg_type": "fmp4",
        "seg_time": 1,
        "gop_seconds": 1,
        "audio_sample_rate": "48k",
        "thumbnail": {"start_point": 0, "interval": 1, "number": 2, "width": 64, "height": 48},
    }
    data, task = run_task(
        emulator, client, storage=storage, source=source, output="shows/ep1",
        fields={"format": "hls"}, extra=extra,
    )  # fmt: skip

    assert data["status"] == "success", data["err_msg"]
    assert task.objkey == "vod/shows/ep1.m3u8"
    files = mirror(emulator, task.objkey, tmp_path)
    master = files[0]
    assert re.findall(r"RESOLUTION=(\d+x\d+)", master.read_text()) == ["320x240", "160x120"]
    assert {p.name for p in files} == {master.name, *(p.name for p in playlist_segments(master))}
    assert decoded_frames(master, "-protocol_whitelist", "file") == 75
    groups = task.media["output_groups"]
    assert [g["format"] for g in groups] == ["hls", "jpg"]
    assert (groups[0]["key"], groups[0]["seg_type"], groups[0]["seg_time"]) == (
        "vod/shows/ep1.m3u8",
        "fmp4",
        1.0,
    )
    assert [r["key"] for r in groups[0]["renditions"]] == [
        "vod/shows/ep1_0.m3u8",
        "vod/shows/ep1_1.m3u8",
    ]
    assert groups[1]["keys"] == ["vod/shows/ep1_thumb_00001.jpg", "vod/shows/ep1_thumb_00002.jpg"]
    objects = emulator.app.state.ctx.objects
    for key in groups[1]["keys"]:
        objects.download_file(BUCKET, key, tmp_path / "thumb.jpg", max_bytes=MAX_BYTES)
    assert set(task.output_keys) >= {task.objkey, *groups[1]["keys"]}
    assert task.media["output"]["sample_rate"] == 48000


def test_dash_task_uploads_the_mpd_and_its_segments(
    emulator: EmulatorServer, client: TranscodeClient, storage: str, source: str, tmp_path: Path
) -> None:
    extra = {"adaptive_streams": [{"resolution": "240p"}, {"resolution": "120p"}], "seg_time": 1}
    data, task = run_task(
        emulator, client, storage=storage, source=source, output="dash/movie.mpd",
        fields={"format": "dash"}, extra=extra,
    )  # fmt: skip

    assert data["status"] == "success", data["err_msg"]
    files = mirror(emulator, task.objkey, tmp_path)
    root = ElementTree.parse(files[0]).getroot()
    representations = root.iter("{urn:mpeg:dash:schema:mpd:2011}Representation")
    assert [r.get("height") for r in representations] == ["240", "120", None]  # + audio
    assert len(files) == 1 + len(mpd_segments(files[0]))
    assert task.media["output_groups"][0]["format"] == "dash"


def test_aes128_key_is_served_to_players_with_control_off(
    emulator: EmulatorServer, client: TranscodeClient, storage: str, source: str, tmp_path: Path
) -> None:
    data, task = run_task(
        emulator, client, storage=storage, source=source, output="secret/film",
        fields={"format": "hls"}, extra={"encryption": {"mode": "aes-128", "key_url": ""}},
    )  # fmt: skip

    assert data["status"] == "success", data["err_msg"]
    key_url = f"{emulator.base_url}/_emulator/media-keys/{task.task_id}"
    response = httpx.get(key_url)
    assert response.status_code == 200
    assert len(response.content) == 16
    assert response.headers["access-control-allow-origin"] == "*"
    files = mirror(emulator, task.objkey, tmp_path)
    assert f'#EXT-X-KEY:METHOD=AES-128,URI="{key_url}"' in files[0].read_text()
    assert decoded_frames(files[1]) == -1  # a segment alone is noise
    assert decoded_frames(files[0], "-protocol_whitelist", "file,http,tcp,crypto") == 75
    assert task.media["output_groups"][0]["encryption"] == "aes-128"
    assert task.media["hls_key_hex"] not in task.ffmpeg_command + task.stderr_tail


def test_media_key_of_an_unknown_task_is_404(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.base_url}/_emulator/media-keys/20200101000000abc")

    assert response.status_code == 404
    assert "has no AES-128 key" in response.json()["detail"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"encryption": {"mode": "aes-128", "drm_systems": ["fairplay"]}}, "drm_systems"),
        ({"encryption": {"mode": "cenc"}}, "encryption mode 'cenc'"),
    ],
)
def test_unemulated_encryption_fails_2007(
    emulator: EmulatorServer,
    client: TranscodeClient,
    storage: str,
    source: str,
    extra: dict[str, Any],
    named: str,
) -> None:
    data, _ = run_task(
        emulator, client, storage=storage, source=source, output="drm/x",
        fields={"format": "hls"}, extra=extra,
    )  # fmt: skip

    assert (data["status"], data["err_code"]) == ("fail", 2007)
    assert named in data["err_msg"] and "not emulated" in data["err_msg"]
