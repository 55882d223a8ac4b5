"""Link-local and cloud-metadata addresses are never fetched, in any mode, before connecting.

No test here sends a packet anywhere but loopback: `connects` replaces the function httpx's
transport opens TCP connections with, lets loopback through and refuses everything else.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import callbacks
from emulator.client import TranscodeClient
from emulator.db.models import CallbackDelivery
from emulator.errors import INPUT_DOWNLOAD_FAILED, LOGO_FETCH_FAILED, TaskFailed
from emulator.netguard import NetGuard
from emulator.server import EmulatorServer
from emulator.worker.fetch import download_http
from tests.conftest import wait_for
from tests.v1.helpers import poll

RULE = "link-local and cloud-metadata addresses are never fetched"
FORBIDDEN = [
    "169.254.169.254",
    "169.254.0.1",
    "fe80::1",
    "fd00:ec2::254",
    "100.100.100.200",
    "::ffff:169.254.169.254",
]


class Handler(BaseHTTPRequestHandler):
    """/to?url= redirects there; anything else answers 10 bytes and records its Host header."""

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]
        if self.path.startswith("/to?url="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/to?url="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "10")
        self.end_headers()
        self.wfile.write(b"0123456789")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def origin_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hosts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def origin(origin_server: ThreadingHTTPServer) -> str:
    origin_server.hosts.clear()  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{origin_server.server_address[1]}"


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address httpx tried to connect to; only loopback IPs are actually connected."""
    seen: list[Any] = []
    real = socket.create_connection

    def spy(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        if not _loopback(str(address[0])):
            raise OSError(f"the test refuses to connect to {address}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)
    return seen


def outside(seen: list[Any]) -> list[Any]:
    """The addresses tried that are not loopback (the emulator's own API calls are)."""
    return [address for address in seen if not _loopback(str(address[0]))]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolver(names: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise OSError(f"{host} is not in the test's resolver")
        return names[host]

    return resolve


def fetch(url: str, target: Path, **kwargs: Any) -> int:
    options: dict[str, Any] = {"max_bytes": 1024, "timeout_s": 10, "err_code": 2001}
    return download_http(url, target, what="input", **options, **kwargs)


# -- downloads, function by function -----------------------------------------------------------


@pytest.mark.parametrize("address", FORBIDDEN)
@pytest.mark.parametrize("block_private", [False, True])
def test_forbidden_address_is_refused_before_connecting(
    address: str, block_private: bool, connects: list[Any], tmp_path: Path
) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(TaskFailed) as failed:
        fetch(f"http://{host}/latest/meta-data/", tmp_path / "f", block_private=block_private)
    assert failed.value.err_code == INPUT_DOWNLOAD_FAILED
    assert RULE in str(failed.value)
    assert connects == []


def test_name_resolving_to_metadata_is_refused(connects: list[Any], tmp_path: Path) -> None:
    guard = NetGuard(resolve=resolver({"meta.test": ["127.0.0.1", "169.254.169.254"]}))
    with pytest.raises(TaskFailed) as failed:
        fetch("http://meta.test/", tmp_path / "f", guard=guard)
    assert RULE in str(failed.value) and "meta.test" in str(failed.value)
    assert connects == []


def test_redirect_to_metadata_is_refused(origin: str, connects: list[Any], tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as failed:
        fetch(f"{origin}/to?url=http://169.254.169.254/latest/", tmp_path / "f")
    assert RULE in str(failed.value)
    assert [a[0] for a in connects] == ["127.0.0.1"]


def test_redirect_to_a_name_resolving_to_metadata_is_refused(
    origin: str, connects: list[Any], tmp_path: Path
) -> None:
    guard = NetGuard(resolve=resolver({"meta.test": ["fd00:ec2::254"]}))
    with pytest.raises(TaskFailed) as failed:
        fetch(f"{origin}/to?url=http://meta.test/", tmp_path / "f", guard=guard)
    assert RULE in str(failed.value)
    assert [a[0] for a in connects] == ["127.0.0.1"]


def test_a_name_is_resolved_once_and_that_address_connected(
    origin_server: ThreadingHTTPServer, origin: str, connects: list[Any], tmp_path: Path
) -> None:
    """A name that answers loopback first and metadata after cannot slip past the check."""
    answers = [["127.0.0.1"], ["169.254.169.254"]]
    lookups: list[str] = []

    def flip(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups), 2) - 1]

    port = origin_server.server_address[1]
    written = fetch(f"http://flip.test:{port}/ok", tmp_path / "f", guard=NetGuard(resolve=flip))
    assert written == 10
    assert lookups == ["flip.test"]
    assert connects == [("127.0.0.1", port)]
    # The request still names the URL's host, not the address it went to.
    assert origin_server.hosts == [f"flip.test:{port}"]  # type: ignore[attr-defined]


def test_tls_keeps_the_urls_server_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """https to a pinned address still sends (and verifies) the URL's host name."""
    guard = NetGuard(resolve=resolver({"media.test": ["127.0.0.1"]}))
    pinned = guard.pin(httpx.URL("https://media.test:8443/a.mp4?x=1"))
    assert str(pinned.url) == "https://127.0.0.1:8443/a.mp4?x=1"
    assert pinned.headers == {"Host": "media.test:8443"}
    assert pinned.extensions == {"sni_hostname": "media.test"}


# -- callbacks ---------------------------------------------------------------------------------


def delivery(url: str) -> CallbackDelivery:
    return CallbackDelivery(id=1, task_id="t", url=url, payload={}, next_attempt_at=0, created_at=0)


@pytest.mark.parametrize(
    "url", ["http://100.100.100.200/hook", "http://[fe80::1]:8080/hook", "http://meta.test/h"]
)
def test_callback_to_metadata_is_refused_before_connecting(url: str, connects: list[Any]) -> None:
    guard = NetGuard(resolve=resolver({"meta.test": ["169.254.169.254"]}))
    with httpx.Client() as client:
        attempt, ok = callbacks.post(client, delivery(url), guard=guard)
    assert not ok and RULE in attempt["error"], attempt
    assert attempt["status_code"] is None
    assert connects == []


def test_callback_name_is_resolved_once(
    origin_server: ThreadingHTTPServer, connects: list[Any]
) -> None:
    lookups: list[str] = []

    def flip(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["169.254.169.254"]

    port = origin_server.server_address[1]
    with httpx.Client() as client:
        attempt, _ = callbacks.post(
            client, delivery(f"http://flip.test:{port}/hook"), guard=NetGuard(resolve=flip)
        )
    assert attempt["status_code"] == 501, attempt  # the test server has no do_POST: it answered
    assert lookups == ["flip.test"]
    assert connects == [("127.0.0.1", port)]


# -- through a running emulator (default settings: private networks allowed) ---------------


@pytest.fixture
def guard(emulator: EmulatorServer) -> NetGuard:
    found: NetGuard = emulator.app.state.ctx.guard
    assert not found.block_private  # the default: these refusals hold in every mode
    return found


def test_task_with_metadata_input_fails_2001(
    api: TranscodeClient, storage_id: str, connects: list[Any]
) -> None:
    task_id = create_task(api, storage_id, input="http://169.254.169.254/latest/meta-data/")
    task = wait_for(api, task_id)
    assert task["status"] == "fail" and task["err_code"] == INPUT_DOWNLOAD_FAILED, task
    assert RULE in task["err_msg"]
    assert outside(connects) == []


def test_task_with_input_name_resolving_to_metadata_fails_2001(
    api: TranscodeClient,
    storage_id: str,
    guard: NetGuard,
    connects: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guard, "resolve", resolver({"meta.test": ["::ffff:169.254.169.254"]}))
    task_id = create_task(api, storage_id, input="http://meta.test/in.mp4")
    task = wait_for(api, task_id)
    assert task["err_code"] == INPUT_DOWNLOAD_FAILED and RULE in task["err_msg"], task
    assert outside(connects) == []


def test_task_with_metadata_logo_fails_2005(
    api: TranscodeClient, storage_id: str, clip_url: str, connects: list[Any]
) -> None:
    template = {"name": "logo", "logo_path": "http://[fd00:ec2::254]/logo.png"}
    assert api.request("POST", "/api/add_template", template).json()["code"] == 0
    task_id = create_task(api, storage_id, input=clip_url, template="logo")
    task = wait_for(api, task_id)
    assert task["err_code"] == LOGO_FETCH_FAILED and RULE in task["err_msg"], task
    assert outside(connects) == []


def test_callback_to_metadata_is_a_failed_attempt(
    api: TranscodeClient, emulator: EmulatorServer, connects: list[Any]
) -> None:
    storage = {"region": "r", "type": "s3", "bucket": "out", "notify": "http://169.254.169.254/"}
    storage_id = api.call("POST", "/api/add_storage", storage)["storage_id"]
    task_id = create_task(api, storage_id, input="http://169.254.169.254/in.mp4")
    wait_for(api, task_id)
    url = f"{emulator.base_url}/_emulator/tasks/{task_id}/callbacks"

    def first_attempt() -> dict[str, Any] | None:
        rows = httpx.get(url, timeout=10).json()["deliveries"]
        return rows[0]["history"][0] if rows and rows[0]["history"] else None

    attempt = poll(first_attempt, what="a callback attempt")
    assert RULE in attempt["error"] and attempt["status_code"] is None, attempt
    assert outside(connects) == []


def create_task(
    api: TranscodeClient, storage_id: str, *, input: str, template: str = "480p"
) -> str:
    params = {
        "template_name": template,
        "input": input,
        "output": "o.mp4",
        "storage_id": storage_id,
    }
    task_id: str = api.call("POST", "/api/create_task", params)["task_id"]
    return task_id
