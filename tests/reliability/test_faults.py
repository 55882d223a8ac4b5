"""Faults: kill -9 of `serve` during a stream of tasks; a damaged database refuses to start."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.server import free_port
from tests.processes import Proc, env_for, serve
from tests.reliability.crash import run_crash

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
