"""Raw signed requests to a live emulator: bytes as given, so hostile bodies reach the server."""

from __future__ import annotations

import json
from typing import Any

import httpx
from requests import Request

from emulator.server import EmulatorServer
from tests.reliability.fuzzing import Target, auth_headers


def target(emulator: EmulatorServer) -> Target:
    settings = emulator.settings
    return Target(emulator.base_url, settings.access_key_id, settings.access_key_secret)


def raw(
    emulator: EmulatorServer,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    query: str = "",
    auth: str = "signed",
) -> httpx.Response:
    """One request with exactly `body` and the query string `query`, signed as `auth` says."""
    url = f"{emulator.base_url}{path}" + (f"?{query}" if query else "")
    req = Request(method, url, data=body or b"").prepare()
    headers = auth_headers(target(emulator), req, auth)
    return httpx.request(method, url, content=body or b"", headers=headers, timeout=60)


def call(emulator: EmulatorServer, method: str, path: str, params: dict[str, Any]) -> dict:
    """A signed call with `params` as a JSON body (or the query for GET); the envelope."""
    if method == "GET":
        query = str(httpx.QueryParams(params))
        response = raw(emulator, method, path, query=query)
    else:
        response = raw(emulator, method, path, body=json.dumps(params).encode())
    envelope: dict = response.json()
    return envelope
