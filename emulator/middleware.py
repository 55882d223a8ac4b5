"""Pure ASGI middleware (a BaseHTTPMiddleware would halve throughput): the Host and cross-site
checks, request ids, body limit, the request log, the last-resort 500 envelope."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.api.envelope import REQUEST_ID_HEADER, error_body, new_request_id, render
from emulator.errors import ApiError, BadParam, Forbidden, InternalError
from emulator.origins import WRITES, SitePolicy
from emulator.services.requestlog import Capture, RequestLog

log = logging.getLogger("emulator.api")

MAX_BODY_BYTES = 1024 * 1024
AUTH_SCHEME_HEADER = b"x-emulator-auth-scheme"
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.lower().encode()


CONTROL_PREFIX = "/_emulator"  # the control API and the dashboard (ui.PREFIX is under it)


class SiteGuard:
    """403 for a Host that is not the emulator's (every route) and for a browser's cross-site
    write to the control surface; outermost, so a refused request runs nothing, not even the
    request log, and its body is never read."""

    def __init__(self, app: ASGIApp, *, policy: SitePolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._refusal(scope)
        if error is None:
            await self.app(scope, receive, send)
            return
        rid = scope.setdefault("state", {}).setdefault("request_id", new_request_id())
        response = render(error_body(error, rid), error.http_status)
        response.headers[REQUEST_ID_HEADER] = rid
        await response(scope, receive, send)

    def _refusal(self, scope: Scope) -> ApiError | None:
        host = origin = fetch_site = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1")
        if not self.policy.allows_host(host, s3=False):
            return Forbidden(self.policy.host_refusal(host))
        method, path = scope["method"], scope["path"]
        if method not in WRITES or not _is_control(path):
            return None
        if self.policy.is_cross_site(origin=origin, fetch_site=fetch_site, host=host):
            return Forbidden(self.policy.cross_site_refusal(origin, method, path))
        return None


class ConsoleLog:
    """One console line per request (emulator/logs.py): method, path, HTTP status, envelope
    code, milliseconds, and the signature scheme that matched or why none did. Outermost, so
    refused requests are logged too; costs nothing when the level hides it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not requests_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status, head = 0, b""

        async def watched(message: Message) -> None:
            nonlocal status, head
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and len(head) < _HEAD:
                head += message.get("body", b"")[:_HEAD]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            _log_request(scope, state, status, head, (time.perf_counter() - started) * 1000)


_HEAD = 256  # an envelope's code is among its first bytes
_CODE = re.compile(rb'^\{"code":\s*(-?\d+)')
# The dashboard polls, and pages load their assets: those lines only at debug level.
_QUIET = ("/_emulator/ui/static/", "/docs/static/", "/_emulator/health")
requests_log = logging.getLogger("emulator.requests")


def _log_request(scope: Scope, state: dict[str, Any], status: int, head: bytes, ms: float) -> None:
    path: str = scope["path"]
    level = logging.DEBUG if path.startswith(_QUIET) or state.get("quiet") else logging.INFO
    if not requests_log.isEnabledFor(level):
        return
    found = _CODE.match(head)
    code = int(found[1]) if found else None
    auth = state.get("auth_scheme") or (
        f"failed: {state['auth_error']}" if state.get("auth_error") else None
    )
    words = [scope["method"], path, str(status or "-")]
    if code is not None:
        words.append(f"code={code}")
    words.append(f"{ms:.1f} ms")
    if auth:
        words.append(f"auth={auth}")
    requests_log.log(
        level,
        " ".join(words),
        extra={"method": scope["method"], "path": path, "status": status, "code": code,
               "ms": round(ms, 2), "auth": auth, "request_id": state.get("request_id")},
    )  # fmt: skip


def _is_control(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(f"{CONTROL_PREFIX}/")


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        request_log: RequestLog | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        rid = state.setdefault("request_id", new_request_id())
        requests = self.request_log
        capture = requests.start(scope) if requests is not None else None
        if requests is None or capture is None:
            await self._handle(scope, receive, send, state, rid, None)
            return
        try:
            await self._handle(scope, capture.wrap(receive), send, state, rid, capture)
        finally:
            requests.add(capture, state)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        state: dict[str, Any],
        rid: str,
        capture: Capture | None,
    ) -> None:
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER_BYTES, rid.encode()))
                scheme = state.get("auth_scheme")
                if scheme:
                    headers.append((AUTH_SCHEME_HEADER, scheme.encode()))
                message = {**message, "headers": headers}
            if capture is not None:  # the request log keeps status and the body's head
                capture.sent(message)
            await send(message)

        too_big = _declared_length(scope) > self.max_body_bytes
        if too_big:
            error: ApiError = BadParam(f"request body is larger than {self.max_body_bytes} bytes")
            # The vendor's API answers errors with HTTP 200; the control API with real statuses.
            status = 413 if _is_control(scope["path"]) else 200
            await render(error_body(error, rid), status)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, _limited(receive, self.max_body_bytes), send_with_headers)
        except Exception:
            log.exception(
                "unhandled error in %s %s (request %s)", scope["method"], scope["path"], rid
            )
            if started:
                raise
            error = InternalError("the emulator hit an unexpected error; its log has the details")
            await render(error_body(error, rid), 500)(scope, receive, send_with_headers)


class BodyTooLarge(BadParam):
    pass


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _limited(receive: Receive, limit: int) -> Receive:
    """Refuse a chunked body that grows past the limit while it streams in."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"request body is larger than {limit} bytes")
        return message

    return wrapped
