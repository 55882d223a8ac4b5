"""Hot routes (emulator/api/hot.py) answer exactly as FastAPI's own handling of the same route.

Each case goes to the running emulator (hot path) and to a second app on the same context with
the hot layer removed (FastAPI resolves the dependencies); the answers must match.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from benchmarks.api_throughput import seed_task
from emulator import signing
from emulator.api.deps import ContextDep
from emulator.api.hot import HotRoutes, compile_routes, hot
from emulator.app import create_app
from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

HOT = {
    ("GET", "/api/query_task"),
    ("GET", "/api/list_task"),
    ("GET", "/api/list_summary"),
    ("GET", "/api/query_template"),
    ("GET", "/api/list_template"),
    ("GET", "/api/list_storage"),
    ("GET", "/vodencoding/v1/query_task"),
    ("GET", "/vodencoding/v1/list_task"),
    ("GET", "/vodencoding/v1/list_summary"),
    ("GET", "/vodencoding/v1/query_template"),
    ("GET", "/vodencoding/v1/list_template"),
    ("GET", "/vodencoding/v1/list_storage"),
}


def test_the_busy_read_routes_are_hot(emulator: EmulatorServer) -> None:
    assert set(compile_routes(emulator.app)) == HOT


def without_hot_layer(emulator: EmulatorServer) -> FastAPI:
    app = create_app(emulator.settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HotRoutes]
    app.state.ctx = emulator.app.state.ctx  # the running emulator's database and keys
    return app


def signed(emulator: EmulatorServer, path: str, query: dict[str, Any]) -> dict[str, str]:
    s = emulator.settings
    if path.startswith("/vodencoding/"):
        token = base64.b64encode(f"{s.access_key_id}:{s.access_key_secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return signing.sign_request(
        method="GET",
        path=path,
        query=query,
        access_key_id=s.access_key_id,
        access_key_secret=s.access_key_secret,
        nonce=False,
    )


def answer(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    body.pop("request_id")
    return (
        response.status_code,
        body,
        response.headers.get("x-emulator-auth-scheme"),
        response.headers.get("www-authenticate"),
        "x-wz-request-id" in response.headers,
    )


def cases(emulator: EmulatorServer, task_id: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(path, query, sign?) for success, missing, invalid and unknown parameters, and no auth."""
    window = {"start_time": "1700000000", "end_time": "4000000000"}
    found: list[tuple[str, dict[str, Any], bool]] = []
    for prefix in ("/api", "/vodencoding/v1"):
        found += [
            (f"{prefix}/query_task", {"task_id": task_id}, True),
            (f"{prefix}/query_task", {"task_id": "nope"}, True),
            (f"{prefix}/query_task", {}, True),
            (f"{prefix}/query_task", {"task_id": task_id}, False),
            (f"{prefix}/list_task", window, True),
            (f"{prefix}/list_task", {**window, "count": "0"}, True),
            (f"{prefix}/list_task", {**window, "status": "bogus"}, True),
            (f"{prefix}/list_summary", {}, True),
            (f"{prefix}/list_summary", {"start_time": "1", "end_time": "5"}, True),
            (f"{prefix}/query_template", {"name": "480p"}, True),
            (f"{prefix}/query_template", {"name": "nope"}, True),
            (f"{prefix}/list_template", {}, True),
            (f"{prefix}/list_template", {}, False),
            (f"{prefix}/list_storage", {}, True),
        ]
    return found


def test_hot_and_fastapi_answers_match(emulator: EmulatorServer, api: TranscodeClient) -> None:
    task_id = seed_task(emulator.base_url)  # a pending task in a fresh storage
    cold = without_hot_layer(emulator)

    async def compare() -> None:
        transport = httpx.ASGITransport(app=cold)
        async with (
            httpx.AsyncClient(base_url=emulator.base_url) as hot_client,
            httpx.AsyncClient(transport=transport, base_url="http://emulator") as cold_client,
        ):
            for path, query, sign in cases(emulator, task_id):
                headers = signed(emulator, path, query) if sign else {}
                got = await hot_client.get(path, params=query, headers=headers)
                want = await cold_client.get(path, params=query, headers=headers)
                assert answer(got) == answer(want), (path, query, sign)

    asyncio.run(compare())


def test_a_route_the_hot_layer_cannot_serve_fails_at_start() -> None:
    app = FastAPI()

    @app.get("/sync")
    @hot
    def sync_endpoint(request: Request, ctx: ContextDep) -> Response:  # type: ignore[type-var]
        return Response()

    with pytest.raises(TypeError, match="must be async"):
        compile_routes(app)

    app = FastAPI()

    @app.get("/query")
    @hot
    async def with_query(request: Request, name: str) -> Response:
        return Response()

    with pytest.raises(TypeError, match="parameter 'name' cannot be served hot"):
        compile_routes(app)
