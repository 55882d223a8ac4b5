"""One task cannot take the machine down: output pixel rate and ffmpeg memory are limited.

The module's emulator runs with small limits so that the tests take seconds: at most
70 million output pixels per second (the default is 3840x2160 at 60 fps), 1024 MB of address
space per ffmpeg (an idle ffmpeg maps about 500 MB of libraries).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.config import Settings
from emulator.db.models import Task
from emulator.errors import TRANSCODE_FAILED, BadParam
from emulator.server import EmulatorServer
from emulator.transcode.clips import make_clip
from tests.conftest import wait_for

MAX_PIXEL_RATE = 70_000_000
MEMORY_MB = 1024


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {
        "worker_concurrency": 1,
        "encoder_preset": "ultrafast",
        "max_pixel_rate": MAX_PIXEL_RATE,
        "ffmpeg_memory_mb": MEMORY_MB,
    }


@pytest.fixture
def v1(api: TranscodeClient, emulator: EmulatorServer) -> Iterator[TranscodeClientV1]:
    s = emulator.settings
    with TranscodeClientV1(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client


HUGE = {"resolution": "8192x8192", "framerate": 120}


def test_defaults_are_4k60_and_6_gb() -> None:
    settings = Settings()
    assert settings.max_pixel_rate == 3840 * 2160 * 60
    assert settings.ffmpeg_memory_mb == 6144
    assert settings.task_timeout == 3600


def test_huge_template_is_refused_by_add_template(api: TranscodeClient) -> None:
    with pytest.raises(BadParam) as caught:
        api.add_template("huge", **HUGE)
    assert "EMULATOR_MAX_PIXEL_RATE" in caught.value.detail
    assert "huge" not in [t.name for t in api.list_template().list]


def test_huge_template_is_refused_by_update_template(api: TranscodeClient) -> None:
    api.add_template("small", resolution="640x480", framerate=25)
    with pytest.raises(BadParam) as caught:
        api.update_template("small", **HUGE)
    assert "EMULATOR_MAX_PIXEL_RATE" in caught.value.detail
    assert api.query_template("small").resolution == "640x480"


def test_update_that_completes_a_huge_size_and_rate_is_refused(api: TranscodeClient) -> None:
    api.add_template("half", resolution="8192x8192")  # frame rate of the source: checked later
    with pytest.raises(BadParam) as caught:
        api.update_template("half", framerate=120)
    assert "EMULATOR_MAX_PIXEL_RATE" in caught.value.detail


def test_huge_template_is_refused_by_v1_add_and_update(v1: TranscodeClientV1) -> None:
    with pytest.raises(BadParam) as caught:
        v1.add_template("huge", **HUGE)
    assert "EMULATOR_MAX_PIXEL_RATE" in caught.value.detail
    v1.add_template("small", resolution="640x480", framerate=25)
    with pytest.raises(BadParam) as caught:
        v1.update_template("small", **HUGE)
    assert "EMULATOR_MAX_PIXEL_RATE" in caught.value.detail


def test_ladder_is_refused_for_its_summed_pixel_rate(v1: TranscodeClientV1) -> None:
    # Each rendition alone is under the limit (1920x1080 at 30 fps: 62 M), the two are not.
    rung = {"resolution": "1920x1080", "framerate": 30}
    v1.add_template("one", format="hls", adaptive_streams=[rung])
    with pytest.raises(BadParam) as caught:
        v1.add_template("two", format="hls", adaptive_streams=[rung, rung])
    assert "EMULATOR_MAX_PIXEL_RATE" in caught.value.detail


def test_keep_source_template_fails_2003_before_ffmpeg_starts(
    api: TranscodeClient,
    emulator: EmulatorServer,
    s3: Any,
    storage_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # 1280x720 at 120 fps is 110 M pixels per second; the built-in "origin" keeps both.
    fast = make_clip(
        tmp_path_factory.mktemp("fast") / "fast.mp4", size="1280x720", rate=120, duration=0.1
    )
    s3.ensure_bucket("inputs")
    s3.upload_file(fast, "inputs", "fast.mp4")
    params = {"template_name": "origin", "input": "s3://inputs/fast.mp4", "output": "o.mp4"}
    task_id = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})["task_id"]
    data = wait_for(api, task_id)

    assert (data["status"], data["err_code"]) == ("fail", TRANSCODE_FAILED), data
    assert "EMULATOR_MAX_PIXEL_RATE" in data["err_msg"] and "1280x720" in data["err_msg"]
    with emulator.app.state.ctx.db.read() as session:
        task = session.get(Task, task_id)
        assert task is not None and task.ffmpeg_command == ""  # saved once ffmpeg is spawned


def test_ffmpeg_over_its_memory_limit_fails_2003_naming_the_limit(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    # 8192x8192 at 1 fps passes the pixel rate (67 M), but one such frame needs over 1 GB in x264.
    api.add_template("upscale", resolution="8192x8192", framerate=1)
    params = {"template_name": "upscale", "input": clip_url, "output": "o.mp4"}
    task_id = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})["task_id"]
    data = wait_for(api, task_id)

    assert (data["status"], data["err_code"]) == ("fail", TRANSCODE_FAILED), data
    assert "EMULATOR_FFMPEG_MEMORY_MB" in data["err_msg"] and f"{MEMORY_MB} MB" in data["err_msg"]


def test_ordinary_task_encodes_under_the_memory_limit(
    api: TranscodeClient, storage_id: str, clip_url: str
) -> None:
    params = {"template_name": "480p", "input": clip_url, "output": "o.mp4"}
    task_id = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})["task_id"]
    assert wait_for(api, task_id)["status"] == "success"
