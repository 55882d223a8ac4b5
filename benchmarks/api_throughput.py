"""Signed, database-backed GET /api/query_task vs a bare FastAPI route, same server, same load.

Target (issue 3): ratio >= 0.5 at 32 connections, p99 < 25 ms. Prints both rates and the ratio.
"""

from __future__ import annotations

import sys

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


def main(seconds: int = 10, connections: int = 32) -> None:
    port = free_port()
    with process([sys.executable, "-c", BARE_APP % port]):
        wait_http(f"http://127.0.0.1:{port}/bare")
        wrk(f"http://127.0.0.1:{port}/bare", {}, connections=connections, seconds=2)  # warm-up
        bare = wrk(f"http://127.0.0.1:{port}/bare", {}, connections=connections, seconds=seconds)
    with emulator_process(worker_concurrency="0") as base_url:
        task_id = seed_task(base_url)
        query = {"task_id": task_id}
        # No nonce: the same signed request may be replayed for the whole run (SPEC.md s. 2).
        headers = signing.sign_request(
            method="GET",
            path="/api/query_task",
            query=query,
            nonce=False,
            access_key_id=DEV_ACCESS_KEY_ID,
            access_key_secret=DEV_ACCESS_KEY_SECRET,
        )
        url = f"{base_url}/api/query_task?task_id={task_id}"
        assert httpx.get(url, headers=headers).json()["code"] == 0
        wrk(url, headers, connections=connections, seconds=2)
        signed = wrk(url, headers, connections=connections, seconds=seconds)
    print(f"bare FastAPI route     {bare['rps']:8.0f} req/s   p99 {bare['p99_ms']:6.1f} ms")
    print(
        f"signed query_task      {signed['rps']:8.0f} req/s   p99 {signed['p99_ms']:6.1f} ms"
        f"   non-2xx {signed['non_2xx']:.0f}"
    )
    print(
        f"ratio signed/bare      {signed['rps'] / bare['rps']:.2f}   (target >= 0.5, p99 < 25 ms)"
    )


def seed_task(base_url: str) -> str:
    from emulator.client import TranscodeClient

    with TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "b0b"}
        )
        task_id: str = api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": "480p",
                "input": "http://127.0.0.1:1/x.mp4",
                "output": "x.mp4",
                "storage_id": storage["storage_id"],
            },
        )["task_id"]
    return task_id


if __name__ == "__main__":
    main()
