"""Input downloads: redirects, schemes, size limits while streaming; blocking private networks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.errors import TaskFailed
from emulator.netguard import private_address
from emulator.server import EmulatorServer
from emulator.worker.fetch import download_http
from tests.conftest import wait_for
from tests.reliability.helpers import call


class Handler(BaseHTTPRequestHandler):
    """/hop/N redirects N more times; /to?url= redirects there; /big streams 3 MiB; /ok 10 B."""

    def do_GET(self) -> None:
        if self.path.startswith("/hop/"):
            left = int(self.path.split("/")[2])
            self.redirect(f"/hop/{left - 1}" if left > 0 else "/ok")
        elif self.path.startswith("/to?url="):
            self.redirect(self.path.removeprefix("/to?url="))
        elif self.path == "/big":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the limit must hold while streaming
            for _ in range(3 * 16):
                self.wfile.write(b"x" * 65536)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"0123456789")

    def do_POST(self) -> None:
        self.server.posts.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.posts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(url: str, target: Path, **kwargs: Any) -> int:
    options: dict[str, Any] = {"max_bytes": 1024 * 1024, "timeout_s": 30, "err_code": 2001}
    options.update(kwargs)
    return download_http(url, target, what="input", **options)


def test_five_redirects_are_followed(origin: str, tmp_path: Path) -> None:
    assert fetch(f"{origin}/hop/4", tmp_path / "f") == 10


def test_six_redirects_fail_2001(origin: str, tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as failed:
        fetch(f"{origin}/hop/5", tmp_path / "f")
    assert failed.value.err_code == 2001 and "redirects more than 5" in str(failed.value)


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://example.com/a", "data:,x", "http://[bad"]
)
def test_redirect_to_another_scheme_fails(origin: str, tmp_path: Path, location: str) -> None:
    with pytest.raises(TaskFailed) as failed:
        fetch(f"{origin}/to?url={location}", tmp_path / "f")
    assert failed.value.err_code == 2001
    assert not (tmp_path / "f").exists() or (tmp_path / "f").stat().st_size == 0


def test_size_limit_holds_while_streaming(origin: str, tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as failed:
        fetch(f"{origin}/big", tmp_path / "f", max_bytes=1024 * 1024)
    assert "larger than 1048576 bytes" in str(failed.value)
    assert (tmp_path / "f").stat().st_size <= 2 * 1024 * 1024


def test_block_private_refuses_loopback_and_each_redirect_hop(origin: str, tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as failed:
        fetch(f"{origin}/ok", tmp_path / "f", block_private=True)
    assert "non-public address 127.0.0.1" in str(failed.value)
    assert "EMULATOR_BLOCK_PRIVATE_NETWORKS" in str(failed.value)
    for url in ["http://10.1.2.3/", "http://169.254.169.254/", "http://[::1]/", "http://0.0.0.0/"]:
        assert private_address(url), url


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"block_private_networks": "on", "worker_concurrency": 1}


def test_block_private_fails_tasks_and_callbacks(
    emulator: EmulatorServer, origin: str, clip: Path
) -> None:
    """With the setting on, a loopback input fails 2001 and the loopback callback is refused."""
    from emulator.client import TranscodeClient

    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    storage = {"region": "r", "type": "s3", "bucket": "out", "notify": f"{origin}/hook"}
    storage_id = call(emulator, "POST", "/vodencoding/v1/add_storage", storage)["data"]
    storage_id = storage_id["storage_id"] if isinstance(storage_id, dict) else storage_id
    assert call(emulator, "POST", "/api/add_template", {"name": "t"})["code"] == 0
    params = {"template_name": "t", "input": f"{origin}/ok", "output": "o.mp4"}
    created = call(emulator, "POST", "/api/create_task", {**params, "storage_id": storage_id})
    assert created["code"] == 0, created
    task_id = created["data"]["task_id"]
    s = emulator.settings
    with TranscodeClient(emulator.base_url, s.access_key_id, s.access_key_secret) as api:
        task = wait_for(api, task_id, timeout_s=120)
    assert task["status"] == "fail" and task["err_code"] == 2001, task
    assert "non-public address 127.0.0.1" in task["err_msg"]
    url = f"{emulator.base_url}/_emulator/tasks/{task_id}/callbacks"

    def first_attempt() -> dict[str, Any] | None:
        rows = httpx.get(url, timeout=30).json()
        rows = rows.get("data", rows) if isinstance(rows, dict) else rows
        rows = rows.get("deliveries", rows) if isinstance(rows, dict) else rows
        history = rows[0].get("history") or rows[0].get("attempts") if rows else None
        return history[0] if isinstance(history, list) and history else None

    attempt = poll(first_attempt, timeout_s=60)
    assert "refused" in attempt["error"] and "127.0.0.1" in attempt["error"], attempt


def poll(probe: Any, timeout_s: float) -> Any:
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{probe.__name__} still empty after {timeout_s} s")
        time.sleep(0.1)
