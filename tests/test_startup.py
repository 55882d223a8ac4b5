"""`serve` as a user starts it: busy ports in one line, the banner after both ports are bound,
a console line per request and per task transition (text and JSON), one line on Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port
from tests.cli.conftest import environment


@contextmanager
def listening() -> Iterator[int]:
    """A port some other program holds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def serve(tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    values = {"EMULATOR_PORT": str(free_port()), "EMULATOR_S3_PORT": str(free_port()),
              "EMULATOR_DATA_DIR": str(tmp_path / "data"), **env}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve"],
        env=environment(**values),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize(
    ("variable", "flag"), [("EMULATOR_PORT", "--port"), ("EMULATOR_S3_PORT", "--s3-port")]
)
def test_a_busy_port_is_one_line_naming_the_setting(
    tmp_path: Path, variable: str, flag: str
) -> None:
    with listening() as port:
        process = serve(tmp_path, **{variable: str(port)})
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert output.splitlines() == [
        f"transcode-emulator: port {port} on 127.0.0.1 is in use: stop what listens there, "
        f"or choose another port with {variable} or {flag}"
    ]


def wait_ready(process: subprocess.Popen[str]) -> tuple[list[str], str]:
    """The banner's lines (read until 'data dir', its last) and the API base URL."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, "\n".join(lines)
        lines.append(line.rstrip("\n"))
        if line.strip().startswith("data dir"):
            break
    base = next(line.split()[-1] for line in lines if "API base URL" in line)
    return lines, base


def stop(process: subprocess.Popen[str]) -> list[str]:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output.splitlines()


def test_console_lines_for_a_request_and_a_task(tmp_path: Path) -> None:
    process = serve(tmp_path)
    banner, base = wait_ready(process)
    assert any(f"{base}/_emulator/ui" in line for line in banner)
    with TranscodeClient(base, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api:
        storage = api.add_storage("cn-hz", "s3", "out").storage_id
        task = api.create_task("480p", f"{base}/_emulator/samples/240p.mp4", "o.mp4", storage)
        assert api.wait_for_task(task.task_id, timeout=60).succeeded
        httpx.get(f"{base}/api/list_storage")  # unsigned: the line says why it failed
    lines = stop(process)
    assert any(
        line.split()[1:5] == ["POST", "/api/add_storage", "200", "code=0"]
        and line.endswith("auth=primary")
        for line in lines
    ), lines
    unsigned = next(line for line in lines if " GET /api/list_storage " in line)
    assert "code=1003" in unsigned and "auth=failed: " in unsigned
    moves = [line.split(" ", 1)[1] for line in lines if f"task {task.task_id}" in line]
    assert [m.split()[2:5] for m in moves] == [
        ["pending", "→", "downloading"],
        ["downloading", "→", "running"],
        ["running", "→", "uploading"],
        ["uploading", "→", "success"],
    ]
    assert all(m.endswith(" s") for m in moves)
    assert lines[-1] == "transcode-emulator stopped"
    assert not any("Traceback" in line for line in lines)


def test_json_console_lines(tmp_path: Path) -> None:
    process = serve(tmp_path, EMULATOR_LOG_FORMAT="json", EMULATOR_WORKER_CONCURRENCY="0")
    _, base = wait_ready(process)
    with TranscodeClient(base, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api:
        api.list_template()
    lines = stop(process)
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    [entry] = [e for e in entries if e.get("path") == "/api/list_template"]
    assert (entry["method"], entry["status"], entry["code"], entry["auth"]) == (
        "GET", 200, 0, "primary",
    )  # fmt: skip
    assert entry["logger"] == "emulator.requests" and entry["ms"] > 0
