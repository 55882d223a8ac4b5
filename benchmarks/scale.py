"""Scale-out figures (issue 10), all as real processes on this machine:

1. tasks completed per minute for a fixed batch of short clips with 1, 2 and 4 `worker`
   processes (one slot each) on PostgreSQL, behind one `serve --no-worker` and one `s3`;
2. API request rate with 1 vs 2 `serve --no-worker` processes, on PostgreSQL vs SQLite: a
   signed read (GET /api/query_task) and a signed write (POST /api/create_task), both under wrk,
   one wrk per node at once (a load balancer's view: the rates add up).

PostgreSQL: a database of its own on EMULATOR_TEST_POSTGRES_URL's server, dropped at the end.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from benchmarks._common import postgres_database, process, wait_http, wrk
from emulator import signing
from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port
from emulator.storage.store import ObjectStore
from emulator.transcode.clips import make_clip

BATCH = 24
WORKERS = (1, 2, 4)
CLI = [sys.executable, "-m", "emulator"]
KEYS = {"access_key_id": DEV_ACCESS_KEY_ID, "access_key_secret": DEV_ACCESS_KEY_SECRET}


@contextlib.contextmanager
def fleet(db_url: str, *, api_nodes: int, workers: int) -> Iterator[tuple[list[str], Path]]:
    """One `s3`, `api_nodes` API processes and `workers` worker processes.

    Yields the API URLs and the root of the processes' data dirs. Nodes start one after the
    other: on SQLite they migrate one shared file, and only the first has anything to do.
    """
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    s3_port = free_port()
    shared = {"EMULATOR_DATABASE_URL": db_url, "EMULATOR_ENCODER_PRESET": "veryfast",
              "EMULATOR_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}"}
    with contextlib.ExitStack() as stack:
        stack.enter_context(process([*CLI, "s3", "--s3-port", str(s3_port)],
                                    {"EMULATOR_DATA_DIR": str(root / "s3")}))
        urls = []
        for index in range(api_nodes):
            port = free_port()
            stack.enter_context(process(
                [*CLI, "serve", "--no-worker", "--port", str(port)],
                {**shared, "EMULATOR_DATA_DIR": str(root / f"api{index}")}))
            urls.append(f"http://127.0.0.1:{port}")
            wait_http(f"{urls[-1]}/_emulator/health", timeout_s=120)
        for index in range(workers):
            stack.enter_context(process([*CLI, "worker"], {
                **shared, "EMULATOR_DATA_DIR": str(root / f"worker{index}")}))
        yield urls, root
    shutil.rmtree(root, ignore_errors=True)


def tasks_per_minute(db_url: str, workers: int, clip: Path) -> float:
    """BATCH tasks created behind a pending hold, then released: completions per minute."""
    with fleet(db_url, api_nodes=1, workers=workers) as ([url], root):
        endpoint = httpx.get(f"{url}/_emulator/health").json()["s3_endpoint"]
        objects = ObjectStore(endpoint_url=endpoint)
        objects.ensure_bucket("inputs")
        objects.upload_file(clip, "inputs", "clip.mp4")
        with TranscodeClient(url, **KEYS) as api:
            api.control.reset(["tasks", "storages"])  # one database serves every run
            storage = api.call("POST", "/api/add_storage",
                               {"region": "r", "type": "s3", "bucket": "out"})
            api.control.hold("pending")
            ids = [api.call("POST", "/api/create_task", {
                "template_name": "origin", "input": "s3://inputs/clip.mp4",
                "output": f"o/{i}.mp4", "storage_id": storage["storage_id"]})["task_id"]
                for i in range(BATCH)]
            wait_workers(root, workers)
            started = time.perf_counter()
            api.control.release("pending")
            while True:
                counts = httpx.get(f"{url}/_emulator/health").json()["tasks"]
                if counts["success"] + counts["fail"] >= BATCH:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            failed = [api.call("GET", "/api/query_task", {"task_id": i}) for i in ids]
            assert counts["success"] == BATCH, [t["err_msg"] for t in failed if t["err_code"]]
    return BATCH / elapsed * 60


def wait_workers(root: Path, workers: int, timeout_s: float = 60) -> None:
    """Until every worker process made its temp dir (it does so once ready to claim)."""
    deadline = time.monotonic() + timeout_s
    while not all((root / f"worker{i}" / "tmp").is_dir() for i in range(workers)):
        if time.monotonic() > deadline:
            raise TimeoutError("worker processes did not start")
        time.sleep(0.1)


def create_task_lua(url: str, storage_id: str) -> str:
    """A wrk script POSTing one signed create_task (no nonce: the same request may repeat)."""
    body = json.dumps({"template_name": "origin", "input": "http://127.0.0.1:1/in.mp4",
                       "output": "bench.mp4", "storage_id": storage_id}).encode()
    headers = signing.sign_request(method="POST", path="/api/create_task", body=body,
                                   nonce=False, **KEYS)
    check = httpx.post(f"{url}/api/create_task", content=body, headers=headers).json()
    assert check["code"] == 0, check
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    path = Path(tempfile.mkstemp(suffix=".lua")[1])
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def wrk_script(url: str, script: str, *, connections: int, seconds: int) -> float:
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", script, url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    non2xx = "Non-2xx" in out
    assert not non2xx, out
    return float(out.split("Requests/sec:")[1].split()[0])


def api_rates(db_url: str, nodes: int, seconds: int = 8) -> tuple[float, float]:
    """(signed reads/s, signed creates/s) summed over `nodes` API processes under wrk."""
    with fleet(db_url, api_nodes=nodes, workers=0) as (urls, _), \
            TranscodeClient(urls[0], **KEYS) as api:
        api.control.reset(["tasks", "storages"])  # one database serves every run
        storage = api.call("POST", "/api/add_storage",
                           {"region": "r", "type": "s3", "bucket": "bench"})["storage_id"]
        task_id = api.call("POST", "/api/create_task", {
            "template_name": "origin", "input": "http://127.0.0.1:1/in.mp4",
            "output": "seed.mp4", "storage_id": storage})["task_id"]
        query = {"task_id": task_id}
        headers = signing.sign_request(method="GET", path="/api/query_task", query=query,
                                       nonce=False, **KEYS)
        script = create_task_lua(urls[0], storage)
        connections = 16 // nodes
        with concurrent.futures.ThreadPoolExecutor(nodes) as pool:
            def read(url: str) -> float:
                target = f"{url}/api/query_task?task_id={task_id}"
                wrk(target, headers, connections=connections, seconds=2)  # warm-up
                return wrk(target, headers, connections=connections, seconds=seconds)["rps"]

            reads = sum(pool.map(read, urls))
            writes = sum(pool.map(lambda url: wrk_script(
                f"{url}/api/create_task", script, connections=connections, seconds=seconds),
                urls))
        os.unlink(script)
    return reads, writes


def main() -> None:
    clip = make_clip(Path(tempfile.mkdtemp(prefix="bench-clip-")) / "clip.mp4",
                     size="320x240", duration=2, rate=25)
    print(f"machine: {os.cpu_count()} cores; batch of {BATCH} tasks, 2 s 320x240 clips, "
          "origin template, veryfast preset, one slot per worker process")
    with postgres_database("emulator_bench") as pg_url:
        rates = {n: tasks_per_minute(pg_url, n, clip) for n in WORKERS}
        for n, rate in rates.items():
            print(f"PostgreSQL  {n} worker process(es)  {rate:6.1f} tasks/min  "
                  f"({rate / rates[1]:.2f}x of 1)")
        sqlite_dir = Path(tempfile.mkdtemp(prefix="bench-sqlite-"))
        for name, url in (("PostgreSQL", pg_url),
                          ("SQLite", f"sqlite:///{sqlite_dir / 'emulator.sqlite3'}")):
            for nodes in (1, 2):
                reads, writes = api_rates(url, nodes)
                print(f"{name:10}  {nodes} API process(es)  query_task {reads:7.0f} req/s   "
                      f"create_task {writes:6.0f} req/s")
        shutil.rmtree(sqlite_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
