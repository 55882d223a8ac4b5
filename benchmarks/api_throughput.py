"""Signed, database-backed polled reads vs a bare FastAPI route, same server, same load.

Targets (issues 3 and 16), at 32 connections: query_task (a succeeded task, its presigned
output URL included, and a running one) >= 0.5 x bare; list_template and list_task (count 10)
>= 0.3 x bare; p99 <= 25 ms for each. Prints every rate and ratio; asserts none.
"""

from __future__ import annotations

import sys
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from benchmarks._common import emulator_process, process, wait_http, wrk
from emulator import signing
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port

BARE_APP = """
import uvicorn
from fastapi import FastAPI
from emulator.config import Settings
from emulator.server import uvicorn_options
app = FastAPI()
@app.get("/bare")
async def bare():
    return {"code": 0, "msg": "success", "data": {"task_id": "x" * 32}}
# Served as `serve` serves the emulator (same protocol, same limits): the ratio is the app's.
uvicorn.run(app, **uvicorn_options(Settings(port=%d)))
"""

# (label, path, query, target ratio); task ids are filled in once the tasks exist.
Case = tuple[str, str, dict[str, Any], float]


def main(seconds: int = 10, connections: int = 32) -> None:
    port = free_port()
    with process([sys.executable, "-c", BARE_APP % port]):
        wait_http(f"http://127.0.0.1:{port}/bare")
        wrk(f"http://127.0.0.1:{port}/bare", {}, connections=connections, seconds=2)  # warm-up
        bare = wrk(f"http://127.0.0.1:{port}/bare", {}, connections=connections, seconds=seconds)
    results = []
    # One worker slot: it runs the succeeded task, then holds the running one in `running`.
    with emulator_process(worker_concurrency="1") as base_url:
        succeeded, running = seed_tasks(base_url)
        now = int(time.time())
        window = {"start_time": now - 3600, "end_time": now + 3600, "count": 10}
        cases: list[Case] = [
            ("query_task succeeded", "/api/query_task", {"task_id": succeeded}, 0.5),
            ("query_task running", "/api/query_task", {"task_id": running}, 0.5),
            ("list_template", "/api/list_template", {}, 0.3),
            ("list_task count=10", "/api/list_task", window, 0.3),
        ]
        for label, path, query, target in cases:
            url, headers = signed_get(base_url, path, query)
            assert httpx.get(url, headers=headers).json()["code"] == 0, label
            wrk(url, headers, connections=connections, seconds=2)
            results.append(
                (label, target, wrk(url, headers, connections=connections, seconds=seconds))
            )
    print(f"bare FastAPI route      {bare['rps']:8.0f} req/s   p99 {bare['p99_ms']:6.1f} ms")
    for label, target, r in results:
        print(
            f"signed {label:<22}{r['rps']:8.0f} req/s   p99 {r['p99_ms']:6.1f} ms"
            f"   non-2xx {r['non_2xx']:.0f}   ratio {r['rps'] / bare['rps']:.2f}"
            f"   (target >= {target}, p99 <= 25 ms)"
        )


def signed_get(base_url: str, path: str, query: dict[str, Any]) -> tuple[str, dict[str, str]]:
    # No nonce: the same signed request may be replayed for the whole run (SPEC.md s. 2).
    headers = signing.sign_request(
        method="GET",
        path=path,
        query=query,
        nonce=False,
        access_key_id=DEV_ACCESS_KEY_ID,
        access_key_secret=DEV_ACCESS_KEY_SECRET,
    )
    return f"{base_url}{path}?{urlencode(query)}" if query else f"{base_url}{path}", headers


def seed_tasks(base_url: str) -> tuple[str, str]:
    """A task that succeeded (a built-in sample clip, transcoded) and one held in `running`."""
    from emulator.client import TranscodeClient

    with TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "b0b"}
        )

        def create(output: str) -> str:
            task_id: str = api.call(
                "POST",
                "/api/create_task",
                {
                    "template_name": "480p",
                    "input": f"{base_url}/_emulator/samples/240p.mp4",
                    "output": output,
                    "storage_id": storage["storage_id"],
                },
            )["task_id"]
            return task_id

        succeeded = create("done.mp4")
        assert api.control.wait_task(succeeded, timeout=120).status == "success"
        api.control.hold("running")
        running = create("running.mp4")
        assert api.control.wait_task(running, timeout=60, status=["running"]).status == "running"
    return succeeded, running


if __name__ == "__main__":
    main()
