"""Cost as the data grows (issue 19): the task table at 1 / 10,000 / 100,000 tasks.

    python -m benchmarks.growth [--backend sqlite|postgresql] [--sizes 1,10000,100000]
                                [--objects empty,10000x10k,20x50m | --objects none]

One `serve` process (embedded S3, a temp data dir; on PostgreSQL a throwaway database on
EMULATOR_TEST_POSTGRES_URL's loopback server). One real task runs to success through the API;
the data set then grows by the fast path below, and every measure runs three times at each
size. A figure is min / median / max of the three runs; the first size (one real task) is
the empty baseline of the same run.

Fast path: copies of the real task's row, inserted with SQLAlchemy Core in batches, each with
its own task_id and create/finish times spread over the last 40 hours (every task successful
and inside list_summary(48, 0)'s and list_task's windows). Columns the schema derives from
the row (emulator/db/models.py `summary_keys`) are filled as the ORM fills them. On
PostgreSQL the load ends with VACUUM ANALYZE, what autovacuum does after a bulk load.

Measures are functions `measure_<name>(bench) -> Figures`, listed in MEASURES.

Then the stored objects (`--objects`, "none" to skip): benchmarks/s3_cost.py's sets, each
written through S3 into a fresh data dir and `serve` started on it three times (RSS, disk,
time to health, beside an empty store measured in the same run); s3_cost.py runs that part
alone.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, select, text

from benchmarks import s3_cost
from benchmarks._common import postgres_database, process, wait_http
from benchmarks.task_overhead import serve_dir
from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port
from emulator.transcode.clips import make_clip

RUNS = 3
BATCH = 2_000
SPREAD_S = 40 * 3600
# Calls per run, and the wall time after which a run stops early (the old list_summary took
# seconds per call at 100,000 tasks).
CALLS = {"list_summary": 40, "list_task": 200, "list_task_uncached": 200, "query_task": 300}
RUN_BUDGET_S = 20.0


@dataclass
class Bench:
    """The running server, its database and the real task the data set copies."""

    api: TranscodeClient
    pid: int
    database_url: str
    task_id: str = ""
    size: int = 0
    notes: dict[str, str] = field(default_factory=dict)


Figures = dict[str, list[float]]  # figure name -> one value per run


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def latencies(call: Callable[[], object], calls: int) -> list[float]:
    """Milliseconds per call, at most `calls` and stopping once RUN_BUDGET_S has passed."""
    out: list[float] = []
    started = time.perf_counter()
    while len(out) < calls and (len(out) < 5 or time.perf_counter() - started < RUN_BUDGET_S):
        begin = time.perf_counter()
        call()
        out.append((time.perf_counter() - begin) * 1000)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(bench: Bench, name: str, call: Callable[[], object]) -> Figures:
    figures: Figures = {"p50_ms": [], "p99_ms": []}
    call()  # warm-up: first-use imports and caches are not what grows
    for _ in range(RUNS):
        runs = latencies(call, CALLS[name])
        figures["p50_ms"].append(percentile(runs, 0.50))
        figures["p99_ms"].append(percentile(runs, 0.99))
    return figures


def measure_list_summary(bench: Bench) -> Figures:
    before = rss_mib(bench.pid)
    figures = timed(
        bench, "list_summary", lambda: bench.api.list_summary(start_time=48, end_time=0)
    )
    after = rss_mib(bench.pid)
    figures["rss_before_mib"] = [before]
    figures["rss_after_mib"] = [after]
    return figures


def measure_list_task(bench: Bench) -> Figures:
    return _list_task(bench, "list_task", moving=False)


def measure_list_task_uncached(bench: Bench) -> Figures:
    """list_task with a window one second longer on every call: each is a new key of the
    read cache (SQLite, db/readcache.py), so every call runs the page and COUNT queries."""
    return _list_task(bench, "list_task_uncached", moving=True)


def _list_task(bench: Bench, name: str, *, moving: bool) -> Figures:
    """list_task count=100 over a window holding every task; `moving` lengthens it per call."""
    now = int(time.time())
    calls = itertools.count()

    def call() -> None:
        end = now + 3600 + (next(calls) if moving else 0)
        window = {"start_time": now - 48 * 3600, "end_time": end, "count": 100}
        listed = bench.api.call("GET", "/api/list_task", window)
        assert listed["total"] == bench.size and listed["num"] == min(100, bench.size), listed

    return timed(bench, name, call)


def measure_query_task(bench: Bench) -> Figures:
    return timed(bench, "query_task", lambda: bench.api.query_task(bench.task_id))


MEASURES: dict[str, Callable[[Bench], Figures]] = {
    "list_summary(48, 0)": measure_list_summary,
    "list_task count=100": measure_list_task,
    "list_task, uncached": measure_list_task_uncached,
    "query_task": measure_query_task,
}


def grow_tasks(bench: Bench, size: int) -> None:
    """Copies of the real task's row until the table holds `size` tasks (the fast path)."""
    engine = create_engine(bench.database_url)
    try:
        tasks = Table("tasks", MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            real = dict(
                connection.execute(select(tasks).where(tasks.c.task_id == bench.task_id))
                .mappings()
                .one()
            )
        derived = "finish_hour" in tasks.c
        now = time.time()
        for start in range(bench.size, size, BATCH):
            rows = [
                _copy(real, now, index, derived) for index in range(start, min(size, start + BATCH))
            ]
            with engine.begin() as connection:
                connection.execute(tasks.insert(), rows)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE tasks"))
    finally:
        engine.dispose()
    bench.size = size


def _copy(real: dict[str, Any], now: float, index: int, derived: bool) -> dict[str, Any]:
    finish = now - 60 - (index * 7919.0 % SPREAD_S)  # spread evenly, not in insertion order
    row = {**real, "task_id": uuid.uuid4().hex, "create_time": float(int(finish) - 5)}
    row["finish_time"] = finish
    if derived:
        from emulator.db.models import summary_keys

        row.update(
            summary_keys(storage=row["storage"], template=row["template"], finish_time=finish)
        )
    return row


def real_task(api: TranscodeClient, work: Path) -> str:
    clip = make_clip(work / "clip.mp4", size="160x120", rate=25, duration=1)
    base = serve_dir(work)
    api.call("POST", "/api/add_template", {"name": "growth", "format": "mp4", "resolution": "480p"})
    storage_id = api.call(
        "POST", "/api/add_storage", {"region": "cn-hz", "type": "s3", "bucket": "growth"}
    )["storage_id"]
    task_id: str = api.call(
        "POST",
        "/api/create_task",
        {"template_name": "growth", "input": f"{base}/{clip.name}", "output": "g/out.mp4",
         "storage_id": storage_id},
    )["task_id"]  # fmt: skip
    done = api.wait_for_task(task_id, timeout=120)
    assert done.status == "success", done
    return task_id


@contextlib.contextmanager
def database(backend: str, data: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{data / 'emulator.sqlite3'}"
        return
    with postgres_database("growth") as url:
        yield url


@contextlib.contextmanager
def server(backend: str) -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="growth-") as tmp, database(backend, Path(tmp)) as url:
        port = free_port()
        env = {"EMULATOR_DATA_DIR": tmp, "EMULATOR_S3_PORT": "0", "EMULATOR_DATABASE_URL": url}
        cli = [sys.executable, "-m", "emulator", "serve", "--port", str(port)]
        with process(cli, env) as proc:
            base_url = f"http://127.0.0.1:{port}"
            wait_http(f"{base_url}/_emulator/health")
            with TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api:
                bench = Bench(api=api, pid=proc.pid, database_url=url)
                bench.task_id = real_task(api, Path(tmp))
                bench.size = 1
                yield bench


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sizes", default="1,10000,100000")
    parser.add_argument("--objects", default=s3_cost.DEFAULT_SETS)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[int, dict[str, Figures]] = {}
    with server(args.backend) as bench:
        for size in sizes:
            started = time.perf_counter()
            grow_tasks(bench, size)
            loaded = time.perf_counter() - started
            results[size] = {name: measure(bench) for name, measure in MEASURES.items()}
            print(f"# {size} tasks (load {loaded:.1f} s)", flush=True)
            for name, figures in results[size].items():
                shown = "  ".join(f"{key} {spread(values)}" for key, values in figures.items())
                print(f"{name:22} {shown}", flush=True)
    print(f"\n{args.backend}: p50 / p99 in ms, min / median / max of {RUNS} runs")
    for name in MEASURES:
        cells = []
        for size in sizes:
            figures = results[size][name]
            cell = f"{size}: p50 {spread(figures['p50_ms'])}, p99 {spread(figures['p99_ms'])}"
            if "rss_after_mib" in figures:
                rss = (figures["rss_before_mib"][0], figures["rss_after_mib"][0])
                cell += f", RSS {rss[0]:.0f} -> {rss[1]:.0f} MiB"
            cells.append(cell)
        print(f"{name:22} " + " | ".join(cells))
    if args.objects != "none":
        print(f"\n# stored objects: {args.objects}", flush=True)
        s3_cost.report(args.objects, RUNS)


if __name__ == "__main__":
    main()
