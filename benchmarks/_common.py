"""Shared helpers for the benchmark scripts: processes on free ports, wrk runs, medians."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from emulator.client import TranscodeClient
from emulator.server import free_port

POSTGRES_SERVER = os.environ.get(
    "EMULATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_http(url: str, timeout_s: float = 30) -> float:
    """Seconds until `url` answers 200.

    One client for every attempt: httpx.get() builds a TLS context each time (~20 ms of CPU),
    which on a 2-core machine takes a core from the process being timed.
    """
    started = time.monotonic()
    with httpx.Client(timeout=1) as client:
        while time.monotonic() - started < timeout_s:
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise TimeoutError(url)


@contextmanager
def emulator_process(**settings: str) -> Iterator[str]:
    """`transcode-emulator serve` on free ports with a temp data dir; yields its base URL."""
    data = tempfile.mkdtemp(prefix="bench-")
    port = free_port()
    env = {f"EMULATOR_{k.upper()}": v for k, v in settings.items()}
    env.setdefault("EMULATOR_S3_PORT", "0")
    env["EMULATOR_DATA_DIR"] = data
    cli = [sys.executable, "-m", "emulator", "serve", "--port", str(port)]
    with process(cli, env):
        wait_http(f"http://127.0.0.1:{port}/_emulator/health")
        yield f"http://127.0.0.1:{port}"
    shutil.rmtree(data, ignore_errors=True)


def wrk(url: str, headers: dict[str, str], *, connections: int, seconds: int) -> dict[str, float]:
    """Requests per second and p99 latency (ms) of GET `url` under wrk."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for this benchmark: apt-get install -y wrk")
    args = ["wrk", "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99[2]]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p99_ms": float(p99[1]) * scale,
        "non_2xx": float(non2xx[1]) if non2xx else 0.0,
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on POSTGRES_SERVER, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


STAGES = ("pending", "downloading", "running", "uploading")


def stage_spans(api: TranscodeClient, task_ids: list[str]) -> dict[str, list[float]]:
    rows = {row.task_id: row for row in api.control.recent_tasks(limit=100)}
    spans: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for task_id in task_ids:
        times = rows[task_id].stage_times
        for stage, after in zip(STAGES, (*STAGES[1:], "success"), strict=True):
            if stage in times and after in times:
                spans[stage].append(times[after] - times[stage])
    return spans
