"""The request log: the last N vendor-API requests of this process, secrets masked on the way out.

Capturing is on the hot path, so it only keeps raw facts (bytes, a status, two clock reads);
parsing and masking happen when the log is read (GET /_emulator/requests). The exception is the
Authorization header, masked as it is kept so that no credential stays in memory.

What is kept is bounded twice over: each value is cut (a header value at 1 KiB, the body and the
server's StringToSign at 4 KiB, shown with TRUNCATED after them), and the entries' estimated
size stays within a byte budget (EMULATOR_REQUEST_LOG_BYTES) besides their count: past either,
the oldest entries go.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Receive, Scope

API_PREFIXES = ("/api/", "/vodencoding/")
MAX_BODY_KEPT = 4 * 1024
MAX_VALUE_KEPT = 1024
HEAD_KEPT = 256
# Objects, numbers and short strings of one entry besides the bytes counted one by one.
ENTRY_OVERHEAD = 1024
MASK = "***"
TRUNCATED = "…(truncated)"
STATE_KEPT = ("request_id", "auth_scheme", "access_key_id", "auth_error", "string_to_sign", "fault")

SECRET_NAMES = frozenset(
    {"storage_sk", "storage_ak", "access_key_secret", "secret_key", "secret", "password", "token"}
)
_SECRET_TEXT = re.compile(
    r"(?i)(\"?(?:storage_sk|storage_ak|access_key_secret|secret_key|secret|password|token)\"?"
    r"\s*[:=]\s*\"?)([^\"&,\n}]*)"
)
_CODE = re.compile(rb'"code"\s*:\s*(-?\d+)')


class Capture:
    """What one request sent and got back, kept raw."""

    __slots__ = (
        "at",
        "authorization",
        "body",
        "body_seen",
        "client",
        "head",
        "method",
        "path",
        "query",
        "started",
        "status",
    )

    def __init__(self, scope: Scope) -> None:
        self.at = time.time()
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"][:MAX_VALUE_KEPT]
        self.query: bytes = scope.get("query_string", b"")[:MAX_BODY_KEPT]
        self.authorization = _authorization(scope.get("headers", []))
        client = scope.get("client")
        self.client: str | None = client[0] if client else None
        self.body: list[bytes] = []
        self.body_seen = 0
        self.status = 0
        self.head = b""

    def wrap(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            chunk = message.get("body", b"") if message["type"] == "http.request" else b""
            if chunk:
                if self.body_seen < MAX_BODY_KEPT:
                    self.body.append(chunk[: MAX_BODY_KEPT - self.body_seen])
                self.body_seen += len(chunk)
            return message

        return wrapped

    def sent(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and len(self.head) < HEAD_KEPT:
            self.head += message.get("body", b"")[: HEAD_KEPT - len(self.head)]

    def size(self) -> int:
        """An estimate of the memory this capture holds."""
        return (
            ENTRY_OVERHEAD
            + sum(len(chunk) for chunk in self.body)
            + len(self.head)
            + len(self.path)
            + len(self.query)
            + len(self.authorization or "")
        )


class RequestLog:
    def __init__(self, size: int, max_bytes: int = 8 * 1024**2) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._entries: deque[tuple[Capture, float, dict[str, Any], int]] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes_kept(self) -> int:
        """The estimated size of the entries kept, always within max_bytes."""
        return self._bytes

    def start(self, scope: Scope) -> Capture | None:
        if self.size <= 0 or self.max_bytes <= 0 or not scope["path"].startswith(API_PREFIXES):
            return None
        return Capture(scope)

    def add(self, capture: Capture, state: dict[str, Any]) -> None:
        latency_ms = (time.perf_counter() - capture.started) * 1000
        kept = {k: _cut_any(state[k], MAX_BODY_KEPT) for k in STATE_KEPT if k in state}
        size = capture.size() + sum(len(v) for v in kept.values() if isinstance(v, str))
        with self._lock:
            self._entries.append((capture, latency_ms, kept, size))
            self._bytes += size
            while len(self._entries) > self.size or self._bytes > self.max_bytes:
                self._bytes -= self._entries.popleft()[3]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def read(
        self,
        *,
        path: str | None = None,
        code: int | None = None,
        method: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest first; `path` is a path or glob ("create_task" means "/api/create_task")."""
        with self._lock:
            entries = list(self._entries)
        if path and not path.startswith("/") and path != "*":
            path = f"/api/{path}"
        found: list[dict[str, Any]] = []
        for capture, latency_ms, state, _ in reversed(entries):
            if path and not fnmatch.fnmatchcase(capture.path, path):
                continue
            if method and capture.method != method.upper():
                continue
            entry = render(capture, latency_ms, state)
            if code is not None and entry["code"] != code:
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found


def render(capture: Capture, latency_ms: float, state: dict[str, Any]) -> dict[str, Any]:
    params, body_text = _params(capture)
    match = _CODE.search(capture.head)
    return {
        "request_id": state.get("request_id"),
        "time": round(capture.at, 3),
        "method": capture.method,
        "path": capture.path,
        "params": params,
        "body": body_text,
        "status": capture.status,
        "code": int(match[1]) if match else None,
        "latency_ms": round(latency_ms, 2),
        "signature": verdict(state),
        "authorization": capture.authorization,
        "fault": state.get("fault"),
        "client": capture.client,
    }


def _params(capture: Capture) -> tuple[dict[str, Any], str | None]:
    """Parameters as the API read them (JSON body, else query); odd bodies shown as text."""
    query = dict(parse_qsl(capture.query.decode("latin-1"), keep_blank_values=True))
    raw = b"".join(capture.body)
    if capture.method == "GET" or not raw.strip():
        return mask(query), None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict):
        return mask(value), None
    text = mask_text(raw.decode("utf-8", errors="replace"))
    return mask(query), text + TRUNCATED if capture.body_seen > len(raw) else text


def verdict(state: dict[str, Any]) -> dict[str, Any]:
    scheme = state.get("auth_scheme")
    if scheme == "off":
        return {"verdict": "off"}
    if scheme:
        return {"verdict": "ok", "scheme": scheme, "access_key_id": state.get("access_key_id")}
    if "auth_error" in state:
        sts = state.get("string_to_sign")
        return {
            "verdict": "fail",
            "detail": mask_text(state["auth_error"]),
            "string_to_sign": mask_text(sts) if sts is not None else None,
        }
    return {"verdict": "none"}


def mask(value: Any) -> Any:
    """A copy with every secret-named field's value replaced by ***."""
    if isinstance(value, dict):
        return {
            k: MASK if str(k).lower() in SECRET_NAMES and v not in (None, "") else mask(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def mask_text(text: str) -> str:
    return _SECRET_TEXT.sub(lambda m: m[1] + (MASK if m[2] else ""), text)


def _authorization(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The Authorization header with its signature or credentials masked, then cut."""
    value = next((v for k, v in headers if k == b"authorization"), None)
    return None if value is None else mask_authorization(value.decode("latin-1"))


def mask_authorization(text: str) -> str:
    """An Authorization value with its signature or credentials masked (the scheme kept), cut."""
    if text.startswith("Visionular "):
        return _cut(re.sub(r"Signature=\S*", f"Signature={MASK}", text), MAX_VALUE_KEPT)
    scheme = text.split(" ", 1)[0]
    return f"{_cut(scheme, MAX_VALUE_KEPT)} {MASK}"


def _cut(text: str, limit: int) -> str:
    """`text` cut at `limit` characters, with TRUNCATED after it when it was longer."""
    return text[:limit] + TRUNCATED if len(text) > limit else text


def _cut_any(value: Any, limit: int) -> Any:
    return _cut(value, limit) if isinstance(value, str) else value
