"""Oversized request headers are refused by the HTTP server before they take the memory."""

from __future__ import annotations

import re
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer

MiB = 1024 * 1024
CHUNK = b"a" * (64 * 1024)
# The whole emulator runs in this process: its peak resident memory may grow by this much
# while refusing a header (one parser buffer and a read chunk or two per connection).
FEW_MB = 8 * MiB


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def _status_line(data: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return int(match[1]) if match else None


def send_huge_header(port: int, size: int, timeout_s: float = 60) -> int | None:
    """Stream one `size`-byte header value, stopping once the server answers or closes.

    Returns the status the server answered with (None if it closed without one).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        while sent < size:
            readable, writable, _ = select.select([sock], [sock], [], timeout_s)
            if readable or not writable:
                break  # an answer (or a close) is waiting: stop sending
            try:
                sent += sock.send(CHUNK[: size - sent])
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            with suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"\r\n\r\n")
        return _status_line(_read_head(sock))


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass  # the server closed with our unread bytes pending; what came before still counts
    return data


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@contextmanager
def peak_memory_growth() -> Iterator[list[int]]:
    """Bytes by which this process's peak resident memory grew inside the block.

    Writing 5 to clear_refs resets the peak (VmHWM) to the current size, so the peak read
    afterwards is the block's own, however briefly the memory was held.
    """
    Path("/proc/self/clear_refs").write_text("5")
    before = _kib("VmRSS")
    growth: list[int] = []
    yield growth
    growth.append((_kib("VmHWM") - before) * 1024)


def test_a_64_mib_header_is_refused_with_bounded_memory(emulator: EmulatorServer) -> None:
    with peak_memory_growth() as growth:
        status = send_huge_header(emulator.settings.port, 64 * MiB)
    assert status is not None and 400 <= status < 500, status
    assert growth[0] < FEW_MB, f"memory grew by {growth[0] / MiB:.1f} MiB"


def test_eight_16_mib_headers_at_once_stay_bounded(emulator: EmulatorServer) -> None:
    statuses: list[int | None] = []

    def one() -> None:
        statuses.append(send_huge_header(emulator.settings.port, 16 * MiB))

    with peak_memory_growth() as growth:
        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(statuses) == 8
    assert all(s is not None and 400 <= s < 500 for s in statuses), statuses
    assert growth[0] < 2 * FEW_MB, f"memory grew by {growth[0] / MiB:.1f} MiB"


def test_headers_just_over_the_limit_are_refused(emulator: EmulatorServer) -> None:
    # Sent in one write: the limit holds for headers that arrive whole, not only streamed ones.
    headers = b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"p" * 1000) for i in range(34))
    request = b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"
    with socket.create_connection(("127.0.0.1", emulator.settings.port), timeout=30) as sock:
        sock.sendall(request)
        status = _status_line(_read_head(sock))
    assert status == 431


def test_a_30_kib_header_set_still_works(emulator: EmulatorServer) -> None:
    headers = {f"X-Pad-{i:02d}": "p" * 1000 for i in range(30)}
    answer = httpx.get(f"{emulator.base_url}/_emulator/health", headers=headers, timeout=30)
    assert answer.status_code == 200


def test_the_limit_is_per_request_on_a_kept_alive_connection(emulator: EmulatorServer) -> None:
    headers = {f"X-Pad-{i:02d}": "p" * 1000 for i in range(20)}
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        statuses = [client.get("/_emulator/health", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_pipelined_requests_are_counted_one_by_one(emulator: EmulatorServer) -> None:
    pad = b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"p" * 1000) for i in range(20))
    one = b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + pad + b"\r\n"
    last = one.replace(b"Host:", b"Connection: close\r\nHost:")
    with socket.create_connection(("127.0.0.1", emulator.settings.port), timeout=30) as sock:
        sock.sendall(one + one + last)
        answers = b""
        while chunk := sock.recv(65536):
            answers += chunk
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answers) == [b"200"] * 3


def test_a_large_body_is_not_counted_as_headers(emulator: EmulatorServer) -> None:
    body = b"x" * (512 * 1024)
    answer = httpx.post(f"{emulator.base_url}/api/query_task", content=body, timeout=30)
    assert answer.status_code != 431
    assert "code" in answer.json()  # the application's envelope: the request reached it
