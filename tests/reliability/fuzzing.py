"""Schemathesis over the emulator's own /openapi.json: signed and unsigned, with envelope checks."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from emulator.signing import (
    JSON_CONTENT_TYPE,
    authorization,
    canonical_resource,
    http_date,
    primary_string_to_sign,
    sign_request,
    signature,
)

MSGS = {
    0: "success",
    1000: "internal error",
    1001: "lack param",
    1002: "bad param",
    1003: "auth fail",
    1004: "empty result",
    1005: "operation fail",
    1006: "duplicated entity",
}
VENDOR_PREFIXES = ("/api/", "/vodencoding/v1/")
NO_AUTH_SUFFIXES = ("/list_storage_type", "/list_storage_types")
# Control routes whose effects would change what later examples mean (keys, clock, faults,
# reset) or that wait by design; the rest of /_emulator/ is fuzzed with GET.
SKIPPED_CONTROL = ("/_emulator/tasks/{task_id}/wait",)
REQUEST_TIMEOUT_S = 30.0


@dataclass
class Stats:
    """What one fuzz run did: requests per (mode, auth) and every problem found."""

    requests: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    base_url: str
    access_key_id: str
    access_key_secret: str


def operations(spec: dict[str, Any]) -> list[Any]:
    """The fuzzed schemathesis operations: every vendor route, control routes read-only."""
    schema = schemathesis.openapi.from_dict(spec)
    picked = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path.startswith(VENDOR_PREFIXES) or (
            op.method.upper() == "GET" and op.path not in SKIPPED_CONTROL
        ):
            picked.append(op)
    return picked


def prepared(case: Any, base_url: str) -> requests.PreparedRequest:
    kwargs = case.as_transport_kwargs(base_url=base_url)
    kwargs.pop("cookies", None)
    return requests.Request(**kwargs).prepare()


def auth_headers(target: Target, req: requests.PreparedRequest, auth: str) -> dict[str, str]:
    """Headers that authenticate `req` as `auth` says: signed, basic (v1 only) or none."""
    if auth == "none":
        return {}
    url = urlsplit(req.url or "")
    if auth == "basic":
        token = base64.b64encode(f"{target.access_key_id}:{target.access_key_secret}".encode())
        return {"Authorization": f"Basic {token.decode()}"}
    body = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    pairs = parse_qsl(url.query, keep_blank_values=True)
    query = dict(pairs)
    if len(query) != len(pairs):
        return signed_with_pairs(target, req.method or "GET", url.path, pairs, body)
    return sign_request(
        method=req.method or "GET",
        path=url.path,
        access_key_id=target.access_key_id,
        access_key_secret=target.access_key_secret,
        query=query,
        body=body,
    )


def signed_with_pairs(
    target: Target, method: str, path: str, pairs: list[tuple[str, str]], body: bytes
) -> dict[str, str]:
    """Primary-scheme headers for a query that repeats a key (sign_request takes a mapping)."""
    headers = {"Date": http_date()}
    content_type = JSON_CONTENT_TYPE if body and method.upper() != "GET" else ""
    if body:
        headers["Content-Type"] = JSON_CONTENT_TYPE
    sts = primary_string_to_sign(
        method=method,
        body=body,
        content_type=content_type,
        date=headers["Date"],
        headers=[],
        resource=canonical_resource(path, pairs),
    )
    headers["Authorization"] = authorization(
        target.access_key_id, signature(target.access_key_secret, sts)
    )
    return headers


def send(
    client: httpx.Client, target: Target, case: Any, auth: str
) -> tuple[requests.PreparedRequest, httpx.Response]:
    req = prepared(case, target.base_url)
    headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
    headers.update(auth_headers(target, req, auth))
    body = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    response = client.request(
        req.method or "GET", req.url or "", content=body, headers=headers, timeout=REQUEST_TIMEOUT_S
    )
    return req, response


def expected_status(path: str, code: int) -> set[int]:
    """HTTP statuses SPEC.md (and the v1 issue) allow for an envelope `code` on `path`."""
    if code == 1003 and path.startswith("/vodencoding/v1/"):
        return {401}
    if code == 1002:
        return {200, 404, 405}
    return {200}


def envelope_problems(path: str, response: httpx.Response, auth: str) -> list[str]:
    """Everything wrong with one response to a vendor route."""
    try:
        body = response.json()
    except json.JSONDecodeError:
        return [f"not JSON: {response.text[:200]!r}"]
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        return [f"not an envelope: {str(body)[:200]}"]
    code, problems = body["code"], []
    if body.get("msg") != MSGS.get(code):
        problems.append(f"code {code} with msg {body.get('msg')!r}")
    if "data" not in body:
        problems.append("no data key")
    rid = response.headers.get("X-Wz-Request-Id")
    if not rid or body.get("request_id") != rid:
        problems.append(f"request_id {body.get('request_id')!r} != header {rid!r}")
    if code != 0 and not body.get("detail"):
        problems.append(f"code {code} without detail")
    if response.status_code not in expected_status(path, code):
        problems.append(f"HTTP {response.status_code} for code {code}")
    if auth == "none" and not path.endswith(NO_AUTH_SUFFIXES) and code != 1003:
        problems.append(f"unsigned request answered code {code}")
    return problems


def check(req: requests.PreparedRequest, response: httpx.Response, auth: str) -> list[str]:
    path = urlsplit(req.url or "").path
    problems = [f"HTTP {response.status_code}"] if response.status_code >= 500 else []
    if path.startswith(VENDOR_PREFIXES):
        problems += envelope_problems(path, response, auth)
    where = f"{req.method} {req.url} body={(req.body or b'')[:200]!r} ({auth})"
    return [f"{where}: {problem}" for problem in problems]


def auth_modes(path: str) -> list[str]:
    if path.startswith("/vodencoding/v1/"):
        return ["signed", "basic", "none"]
    if path.startswith("/api/"):
        return ["signed", "none"]
    return ["none"]


def fuzz_operation(
    op: Any, target: Target, examples: int, stats: Stats, client: httpx.Client
) -> None:
    """`examples` positive and `examples` negative cases of one operation, in every auth mode."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            for auth in auth_modes(op.path):
                req, response = send(client, target, case, auth)
                stats.requests += 1
                stats.problems.extend(check(req, response, auth))

        try:
            run()
        except Unsatisfiable:
            # No negative case exists for an operation without parameters.
            if mode is GenerationMode.POSITIVE:
                raise


def fuzz(target: Target, examples: int, progress: Callable[[str], None] | None = None) -> Stats:
    """Fuzz every picked operation of the live emulator at `target`."""
    stats = Stats()
    with httpx.Client() as client:
        spec = client.get(f"{target.base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S).json()
        for op in operations(spec):
            fuzz_operation(op, target, examples, stats, client)
            if progress:
                progress(f"{op.method.upper()} {op.path}: {stats.requests} requests so far")
    return stats
