"""Load against a `serve` process: 32 clients at full speed plus create_task at 2/s, worker on.

    python -m benchmarks.load [seconds, default 60]

Prints requests served, 5xx, "database is locked", tasks lost or duplicated, p99 per route, and
resident memory / open files of the server at the first minute and at the end (the soak figures).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port
from emulator.transcode.clips import make_clip
from tests.processes import Proc, env_for, wait_healthy
from tests.reliability.crash import upload
from tests.reliability.loadmix import Api, LoadStats, final_statuses, run_load


@dataclass
class LoadResult:
    stats: LoadStats
    lost: int
    duplicated: int
    locked_in_log: int
    memory_kb: list[tuple[float, int]] = field(default_factory=list)  # (second, RSS)
    open_files: list[int] = field(default_factory=list)
    temp_left: int = 0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def run(seconds: float, clients: int = 32, rate: float = 2.0) -> LoadResult:
    """The mix for `seconds` against a fresh `serve` process; memory sampled every 10 s."""
    with tempfile.TemporaryDirectory() as tmp:
        data, clip = Path(tmp) / "data", make_clip(Path(tmp) / "clip.mp4")
        port = free_port()
        proc = Proc(["serve", "--port", str(port)], env_for(data, s3_port=0), Path(tmp) / "log")
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base_url, proc, timeout_s=120)  # generous: loaded CI machines
            api = Api(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
            upload(httpx.get(f"{base_url}/_emulator/health").json()["s3_endpoint"], clip)
            with httpx.Client() as http:
                setup = LoadStats()
                api.call(http, setup, "POST", "/api/add_template", {"name": "load"})
                storage = {"region": "r", "type": "s3", "bucket": "out"}
                sid = api.call(http, setup, "POST", "/api/add_storage", storage)["data"][
                    "storage_id"
                ]
            task = {"template_name": "load", "input": "s3://inputs/clip.mp4", "storage_id": sid}
            result = LoadResult(LoadStats(), 0, 0, 0)
            started, pid = time.monotonic(), proc.popen.pid
            stats = LoadStats()
            # Runs of at most 10 s, so memory and file descriptors are sampled between them.
            while time.monotonic() - started < seconds:
                part = run_load(
                    api,
                    seconds=min(10, seconds - (time.monotonic() - started)),
                    clients=clients,
                    rate=rate,
                    task=task,
                )
                merge(stats, part)
                result.memory_kb.append((time.monotonic() - started, rss_kb(pid)))
                result.open_files.append(open_files(pid))
            statuses = final_statuses(api, stats.created, timeout_s=600)
            result.stats = stats
            result.lost = sum(1 for s in statuses.values() if s != "success")
            result.duplicated = len(stats.created) - len(set(stats.created))
            # Files only: an idle worker slot keeps one ready dir holding a FIFO (worker.Spare).
            result.temp_left = sum(1 for p in (data / "tmp").rglob("*") if p.is_file())
        finally:
            proc.stop()
        result.locked_in_log = proc.output().count("database is locked")
    return result


def merge(total: LoadStats, part: LoadStats) -> None:
    for route, values in part.latencies.items():
        total.latencies[route].extend(values)
    total.status_5xx += part.status_5xx
    total.locked += part.locked
    total.errors += part.errors
    total.created += part.created


def report(result: LoadResult, seconds: float) -> dict[str, Any]:
    stats = result.stats
    first = next((kb for t, kb in result.memory_kb if t >= min(60, seconds / 2)), 0)
    last = result.memory_kb[-1][1] if result.memory_kb else 0
    return {
        "seconds": seconds,
        "requests": stats.requests,
        "5xx": stats.status_5xx,
        "database is locked": stats.locked + result.locked_in_log,
        "tasks created": len(stats.created),
        "tasks lost": result.lost,
        "tasks duplicated": result.duplicated,
        "p99 ms": stats.p99_ms(),
        "rss kB (after 1st minute, end)": (first, last),
        "memory growth %": round(100 * (last - first) / first, 1) if first else None,
        "open files (min, max)": (min(result.open_files), max(result.open_files)),
        "temp files left": result.temp_left,
    }


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    figures = report(run(seconds), seconds)
    for name, value in figures.items():
        print(f"{name}: {value}")
    bad = figures["5xx"] or figures["database is locked"] or figures["tasks lost"]
    return 1 if bad or figures["tasks duplicated"] else 0


if __name__ == "__main__":
    sys.exit(main())
