"""Built-in sample clips: made on first request, cached in the data dir, usable as task inputs."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.conftest import wait_for


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 1}  # the control tests' default has no worker


def test_samples_are_listed_with_their_urls(emulator: EmulatorServer) -> None:
    body = httpx.get(f"{emulator.base_url}/_emulator/samples", timeout=10).json()
    names = {s["name"]: s["url"] for s in body["samples"]}
    assert names["240p.mp4"] == f"{emulator.base_url}/_emulator/samples/240p.mp4"
    assert "720p.mp4" in names


def test_a_sample_is_made_once_and_served_as_mp4(emulator: EmulatorServer, tmp_path: Any) -> None:
    url = f"{emulator.base_url}/_emulator/samples/240p.mp4"
    first = httpx.get(url, timeout=60)
    assert first.status_code == 200
    assert first.headers["content-type"] == "video/mp4"
    cached = emulator.settings.data_dir / "samples" / "240p.mp4"
    assert cached.stat().st_size == len(first.content)
    mtime = cached.stat().st_mtime_ns
    again = httpx.get(url, timeout=60, headers={"Range": "bytes=0-99"})
    assert again.status_code == 206 and len(again.content) == 100
    assert cached.stat().st_mtime_ns == mtime  # served from the cache, not made again
    saved = tmp_path / "s.mp4"
    saved.write_bytes(first.content)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=width,height,codec_type",
            "-of",
            "csv=p=0",
            str(saved),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "320,240" in probe and "audio" in probe


def test_an_unknown_sample_is_404_naming_the_choices(emulator: EmulatorServer) -> None:
    answer = httpx.get(f"{emulator.base_url}/_emulator/samples/nope.mp4", timeout=10)
    assert answer.status_code == 404
    assert "240p.mp4" in answer.json()["detail"]


def test_a_task_takes_a_sample_as_its_input(
    emulator: EmulatorServer, api: TranscodeClient, storage_id: str
) -> None:
    sample = f"{emulator.base_url}/_emulator/samples/240p.mp4"
    task_id = api.create_task("480p", sample, "from-sample.mp4", storage_id).task_id
    done = wait_for(api, task_id)
    assert done["status"] == "success", done["err_msg"]


def test_own_samples_stay_allowed_when_private_networks_are_blocked(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.conftest import make_settings

    data = tmp_path_factory.mktemp("blocked")
    settings = make_settings(data, block_private_networks="on")
    with EmulatorServer(settings) as server:
        s = server.settings
        with TranscodeClient(server.base_url, s.access_key_id, s.access_key_secret) as api:
            storage = api.add_storage("cn-hz", "s3", "out").storage_id
            sample = f"{server.base_url}/_emulator/samples/240p.mp4"
            ok = api.create_task("480p", sample, "ok.mp4", storage).task_id
            other = f"{server.base_url}/_emulator/health"  # the same base, not a sample
            refused = api.create_task("480p", other, "no.mp4", storage).task_id
            assert wait_for(api, ok)["status"] == "success"
            failed = wait_for(api, refused)
            assert failed["err_code"] == 2001
            assert "EMULATOR_BLOCK_PRIVATE_NETWORKS=on" in failed["err_msg"]
