"""What the embedded S3 costs as it stores more (issue 19): RSS, disk and start-up of `serve`.

    python -m benchmarks.s3_cost [--sets empty,10000x10k,20x50m] [--runs 3]

Each set is COUNTxSIZE (k = KiB, m = MiB) or `empty`, the baseline measured in the same run.
A set is written through S3 (boto3, 4 at a time) into a fresh data dir by one `serve`; then
`serve` is started `--runs` times on that data dir and each start is measured:

    healthy_s    Popen to /_emulator/health answering 200 (the store is restored before)
    rss_mib      the server's RSS once healthy, and again after every object was read once
                 (first run only)
    disk         bytes under <data dir>/s3 plus the files the server holds open with no name
                 left (moto's spilled buffers), over the bytes stored: as file sizes, and as
                 allocated blocks (a 10 KiB object takes three 4 KiB blocks)

Printed: min / median / max per figure, and beside the empty set's: RSS above it in MiB,
start-up as a ratio of it. Every object is checked (size and ETag) on the reading pass.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from benchmarks._common import wait_http
from emulator.server import free_port

BUCKET = "cost"
UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}


@dataclass
class Set:
    name: str
    count: int
    size: int

    @property
    def stored(self) -> int:
        return self.count * self.size


@dataclass
class Figures:
    healthy_s: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    rss_after_reads_mib: list[float] = field(default_factory=list)
    disk_ratio: list[float] = field(default_factory=list)
    blocks_ratio: list[float] = field(default_factory=list)
    disk_while_filling: float = 0.0


def parse_set(text: str) -> Set:
    if text == "empty":
        return Set(text, 0, 0)
    count, size = text.lower().split("x")
    unit = size[-1] if size[-1] in UNITS else ""
    return Set(text, int(count), int(size.rstrip("km")) * UNITS[unit])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def disk_bytes(data: Path, pid: int, *, blocks: bool = False) -> int:
    """Bytes under data/s3, plus what the server holds open that has no name any more."""

    def size(stat: os.stat_result) -> int:
        return stat.st_blocks * 512 if blocks else stat.st_size

    total = sum(size(p.lstat()) for p in (data / "s3").rglob("*") if p.is_file())
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if int(fd.name) > 2 and os.readlink(fd).endswith("(deleted)"):
                total += size(os.stat(fd))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class Serve:
    """One `serve` process on a data dir; S3 on a known port."""

    def __init__(self, data: Path) -> None:
        self.port, self.s3_port = free_port(), free_port()
        env = {
            **os.environ,
            "EMULATOR_DATA_DIR": str(data),
            "EMULATOR_S3_PORT": str(self.s3_port),
        }
        cli = [sys.executable, "-m", "emulator", "serve", "--port", str(self.port)]
        started = time.monotonic()
        self.proc = subprocess.Popen(
            cli, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_http(f"http://127.0.0.1:{self.port}/_emulator/health", timeout_s=300)
        self.healthy_s = time.monotonic() - started
        self.s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=8),
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fill(serve: Serve, bench: Set) -> dict[str, str]:
    serve.s3.create_bucket(Bucket=BUCKET)
    if not bench.count:
        return {}
    body = os.urandom(bench.size)

    def put(i: int) -> tuple[str, str]:
        key = f"objects/{i:06}.bin"
        # A few distinct bytes per object, so no two bodies (or ETags) are the same.
        data = i.to_bytes(8, "big") + body[8:] if bench.size >= 8 else body
        return key, serve.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"]

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(put, range(bench.count)))


def read_all(serve: Serve, etags: dict[str, str], size: int) -> None:
    def get(key: str) -> None:
        got = serve.s3.get_object(Bucket=BUCKET, Key=key)
        body = got["Body"].read()
        assert len(body) == size and got["ETag"] == etags[key], key

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(get, etags))


def measure(bench: Set, runs: int) -> Figures:
    figures = Figures()
    data = Path(tempfile.mkdtemp(prefix="s3-cost-"))
    try:
        serve = Serve(data)
        try:
            etags = fill(serve, bench)
            figures.disk_while_filling = disk_bytes(data, serve.proc.pid) / max(1, bench.stored)
        finally:
            serve.stop()
        for run in range(runs):
            serve = Serve(data)
            try:
                time.sleep(0.5)  # let start-up's garbage be collected before reading RSS
                figures.healthy_s.append(serve.healthy_s)
                figures.rss_mib.append(rss_mib(serve.proc.pid))
                stored = max(1, bench.stored)
                figures.disk_ratio.append(disk_bytes(data, serve.proc.pid) / stored)
                figures.blocks_ratio.append(disk_bytes(data, serve.proc.pid, blocks=True) / stored)
                if run == 0:
                    read_all(serve, etags, bench.size)
                    figures.rss_after_reads_mib.append(rss_mib(serve.proc.pid))
            finally:
                serve.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return figures


def spread(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}"


DEFAULT_SETS = "empty,10000x10k,20x50m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=DEFAULT_SETS)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    report(args.sets, args.runs)


def report(set_names: str, runs: int) -> None:
    """Measure each set of `set_names` (comma-separated) and print the table; also run by
    benchmarks/growth.py, which prints issue 19's whole table."""
    sets = [parse_set(text) for text in set_names.split(",")]
    if sets[0].count:
        sets.insert(0, parse_set("empty"))
    results: dict[str, Figures] = {}
    for bench in sets:
        started = time.perf_counter()
        results[bench.name] = measure(bench, runs)
        print(f"# {bench.name} measured in {time.perf_counter() - started:.0f} s", flush=True)
    base = results["empty"]
    base_rss = statistics.median(base.rss_mib)
    base_healthy = statistics.median(base.healthy_s)
    print(f"\nmin / median / max of {runs} starts; the empty set is the baseline")
    for bench in sets:
        got = results[bench.name]
        line = (
            f"{bench.name:12} stored {bench.stored / 2**20:7.0f} MiB | "
            f"healthy {spread(got.healthy_s)} s "
            f"(x{spread([v / base_healthy for v in got.healthy_s])}) | "
            f"RSS {spread(got.rss_mib, 0)} MiB "
            f"({spread([v - base_rss for v in got.rss_mib], 0)} above), "
            f"after reading all {spread(got.rss_after_reads_mib, 0)} MiB"
        )
        if bench.stored:
            line += (
                f" | disk x{spread(got.disk_ratio)} of stored, "
                f"blocks x{spread(got.blocks_ratio)} (x{got.disk_while_filling:.2f} while filling)"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
