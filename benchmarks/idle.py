"""What an idle emulator costs: CPU of `serve` (and of a `worker` process) doing nothing.

Target (issue 17): idle `serve` at most 0.5% of one core over 60 s. Beside it, in the same
run, a bare FastAPI app under uvicorn doing nothing: the floor of any server here.

    python -m benchmarks.idle [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from benchmarks._common import process, wait_http
from emulator.server import free_port

BARE_APP = (
    "import fastapi, uvicorn, sys; app = fastapi.FastAPI(); "
    "app.get('/')(lambda: {}); uvicorn.run(app, port=int(sys.argv[1]), log_level='warning')"
)
WARM_UP_S = 3.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_shares(pids: list[int], seconds: float) -> list[float]:
    """Percent of one core each process used over the same `seconds` of doing nothing."""
    time.sleep(WARM_UP_S)
    before, started = [cpu_seconds(pid) for pid in pids], time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return [100 * (cpu_seconds(pid) - was) / elapsed for pid, was in zip(pids, before, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    seconds = parser.parse_args().seconds
    data = tempfile.mkdtemp(prefix="bench-idle-")
    port, s3_port = free_port(), free_port()
    env = {"EMULATOR_DATA_DIR": data, "EMULATOR_S3_PORT": str(s3_port)}
    serve = [sys.executable, "-m", "emulator", "serve", "--port", str(port)]
    worker = [sys.executable, "-m", "emulator", "worker"]
    bare_port = free_port()
    try:
        with process([sys.executable, "-c", BARE_APP, str(bare_port)]) as bare:
            wait_http(f"http://127.0.0.1:{bare_port}/")
            (floor,) = idle_shares([bare.pid], seconds)
        with process(serve, env) as proc:
            wait_http(f"http://127.0.0.1:{port}/_emulator/health")
            with process(worker, env) as separate:
                serving, working = idle_shares([proc.pid, separate.pid], seconds)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    print(f"idle for {seconds:g} s, percent of one core (target: serve <= 0.5%)")
    print(f"  bare FastAPI + uvicorn      {floor:6.2f} %")
    print(f"  serve (worker, callbacks)   {serving:6.2f} %   {serving - floor:+.2f} over bare")
    print(f"  worker process (SQLite)     {working:6.2f} %   {working - floor:+.2f} over bare")


if __name__ == "__main__":
    main()
