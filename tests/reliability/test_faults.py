"""Faults: kill -9 of `serve` during a stream of tasks; a damaged database refuses to start;
S3 unreachable during an upload; the data dir's disk full while a task downloads or transcodes."""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer, free_port
from emulator.storage.embedded import EmbeddedS3
from emulator.transcode.clips import make_clip
from tests.conftest import make_settings, temp_files
from tests.processes import Proc, env_for, serve
from tests.reliability.crash import run_crash
from tests.reliability.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow


def test_kill9_during_a_stream_of_tasks_loses_nothing(tmp_path: Path) -> None:
    report = run_crash(tmp_path, tasks=10, kills=2)
    assert report.kills == 2
    assert report.lost == []
    assert report.duplicated == []
    assert report.temp_files == []


def start_fails(data: Path) -> str:
    proc = Proc(
        ["serve", "--port", str(free_port())], env_for(data, s3_port=0), data.parent / "x.log"
    )
    try:
        assert proc.popen.wait(120) == 1
    finally:
        proc.stop()
    return proc.output()


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_damaged_database_refuses_to_start(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    with serve(data, worker_concurrency=0) as (base_url, _):
        assert httpx.get(f"{base_url}/_emulator/health", timeout=30).status_code == 200
    database = data / "emulator.sqlite3"
    if damage == "delete":
        database.unlink()
    elif damage == "truncate":
        database.write_bytes(b"")
    else:
        database.write_bytes(b"SQLite format 3\x00" + b"\x13" * 8192)
    output = start_fails(data)
    assert output.startswith("transcode-emulator: database ") and str(database) in output, output
    assert "Traceback" not in output
    assert ("missing" if damage != "garbage" else "corrupt") in output


def signed_client(emulator: EmulatorServer) -> TranscodeClient:
    settings = emulator.settings
    return TranscodeClient(emulator.base_url, settings.access_key_id, settings.access_key_secret)


def assert_api_answers(emulator: EmulatorServer, api: TranscodeClient, task_id: str) -> None:
    """health, query_task and list_task still answer, and see the task as failed."""
    health = httpx.get(f"{emulator.base_url}/_emulator/health", timeout=30)
    assert health.status_code == 200, health.text
    assert api.query_task(task_id).status == "fail"
    now = time.time()
    listed = api.list_task(now - 3600, now + 3600, status="fail")
    assert task_id in [task.task_id for task in listed.list]


# -- S3 unreachable during an upload -----------------------------------------------------------


@pytest.fixture
def s3_proxy(tmp_path: Path) -> Iterator[TcpProxy]:
    """An S3 server (the embedded one, standalone) that the emulator reaches through a proxy."""
    s3 = EmbeddedS3(port=0, data_dir=tmp_path / "s3")
    s3.start()
    try:
        port = int(s3.endpoint_url.rsplit(":", 1)[1])
        with TcpProxy(("127.0.0.1", port)) as proxy:
            yield proxy
    finally:
        s3.stop()


def test_s3_unreachable_during_upload_fails_2004_and_later_tasks_succeed(
    tmp_path: Path, s3_proxy: TcpProxy, clip: Path
) -> None:
    settings = make_settings(tmp_path / "data", s3_endpoint_url=s3_proxy.url)
    with EmulatorServer(settings) as emulator, signed_client(emulator) as api:
        objects = emulator.app.state.ctx.objects
        objects.ensure_bucket("inputs")
        objects.upload_file(clip, "inputs", "clip.mp4")
        storage = api.add_storage("cn-hz", "s3", "out").storage_id
        with api.control.hold("uploading"):
            task_id = api.create_task("origin", "s3://inputs/clip.mp4", "a.mp4", storage).task_id
            api.wait_for_task(task_id, timeout=60, status="uploading")
            s3_proxy.cut()
            before = s3_proxy.connections
        failed = api.wait_for_task(task_id, timeout=120)
        assert (failed.status, failed.err_code) == ("fail", 2004), failed
        assert failed.err_msg.startswith("upload failed: s3://out/a.mp4: "), failed.err_msg
        assert f"S3 endpoint {s3_proxy.url} unreachable (3 tries in " in failed.err_msg
        # botocore's own retries inside each of our three tries
        assert s3_proxy.connections - before > 3
        assert_api_answers(emulator, api, task_id)  # while S3 is still down

        s3_proxy.restore()
        task_id = api.create_task("origin", "s3://inputs/clip.mp4", "b.mp4", storage).task_id
        done = api.wait_for_task(task_id, timeout=120)
        assert done.status == "success", done
        assert api.download_output(task_id, tmp_path / "b.mp4").stat().st_size > 0


# -- disk full in the data dir -----------------------------------------------------------------

TMPFS_SIZE = 16 * 1024 * 1024


@dataclass
class SmallDisk:
    """An emulator whose data dir is a 16 MiB tmpfs; inputs come over HTTP from `origin`."""

    data: Path
    emulator: EmulatorServer
    api: TranscodeClient
    origin: str
    storage: str

    def fill(self, *, leave: int) -> Path:
        """A filler file taking all the free space but `leave` bytes."""
        stat = os.statvfs(self.data)
        filler = self.data / "filler"
        with filler.open("wb") as out:
            os.posix_fallocate(out.fileno(), 0, stat.f_bavail * stat.f_frsize - leave)
        return filler

    def temp_files(self) -> list[Path]:
        return temp_files(self.data)

    def integrity(self) -> str:
        with contextlib.closing(sqlite3.connect(self.data / "emulator.sqlite3")) as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def mount_tmpfs(path: Path) -> None:
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        pytest.skip(
            f"DISK-FULL BEHAVIOUR NOT TESTED: mounting a tmpfs was refused "
            f"(needs root or CAP_SYS_ADMIN): {str(detail).strip()}"
        )


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> Iterator[str]:
    """An HTTP server with clip.mp4 (1 s, tiny) and big.mp4 (~3 MB, larger than the room left,
    and so is its transcoded output: the `life` source's noise hardly compresses)."""
    folder = tmp_path_factory.mktemp("media")
    (folder / "clip.mp4").write_bytes(clip.read_bytes())
    life = "life=mold=10:ratio=0.5"
    make_clip(folder / "big.mp4", size="640x360", duration=2, audio=False, video_source=life)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def small_disk(tmp_path: Path, media: str) -> Iterator[SmallDisk]:
    data = tmp_path / "data"
    data.mkdir()
    mount_tmpfs(data)
    try:
        with EmulatorServer(make_settings(data)) as emulator, signed_client(emulator) as api:
            storage = api.add_storage("cn-hz", "s3", "out").storage_id
            yield SmallDisk(data, emulator, api, media, storage)
    finally:
        # Lazily if something still holds a file there: the mount must not outlive the test.
        if subprocess.run(["umount", str(data)], check=False, capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(data)], check=False)


def assert_recovers(disk: SmallDisk, filler: Path, failed_task: str, tmp_path: Path) -> None:
    """The API answers on the full disk; with room again a small task succeeds; nothing is
    left in tmp and the database is intact."""
    assert_api_answers(disk.emulator, disk.api, failed_task)
    filler.unlink()
    created = disk.api.create_task("origin", f"{disk.origin}/clip.mp4", "ok.mp4", disk.storage)
    done = disk.api.wait_for_task(created.task_id, timeout=120)
    assert done.status == "success", done
    assert disk.api.download_output(done.task_id, tmp_path / "ok.mp4").stat().st_size > 0
    assert disk.temp_files() == []
    assert disk.integrity() == "ok"


def test_disk_full_while_downloading_fails_the_task_and_spares_the_database(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    api = small_disk.api
    filler = small_disk.fill(leave=128 * 1024)
    created = api.create_task("origin", f"{small_disk.origin}/big.mp4", "a.mp4", small_disk.storage)
    failed = api.wait_for_task(created.task_id, timeout=120)
    assert (failed.status, failed.err_code) == ("fail", 2001), failed
    assert failed.err_msg == (
        f"no space left in the data dir {small_disk.data} while downloading the input "
        f"({small_disk.origin}/big.mp4)"
    )
    assert_recovers(small_disk, filler, failed.task_id, tmp_path)


def test_disk_full_while_transcoding_fails_the_task_and_spares_the_database(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    api = small_disk.api
    with api.control.hold("running"):
        task_id = api.create_task(
            "origin", f"{small_disk.origin}/big.mp4", "a.mp4", small_disk.storage
        ).task_id
        api.wait_for_task(task_id, timeout=60, status="running")
        filler = small_disk.fill(leave=64 * 1024)
    failed = api.wait_for_task(task_id, timeout=120)
    assert (failed.status, failed.err_code) == ("fail", 2003), failed
    assert failed.err_msg == "ffmpeg failed: no space left on device while writing the output"
    assert_recovers(small_disk, filler, task_id, tmp_path)
