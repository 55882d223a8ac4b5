"""The response envelope `{code, msg, data, request_id}` (SPEC.md section 1)."""

from __future__ import annotations

import json
import random
from typing import Any, Generic, NotRequired, TypeVar

from fastapi import Request
from fastapi.responses import Response
from typing_extensions import TypedDict

from emulator.errors import ApiError

T = TypeVar("T")
REQUEST_ID_HEADER = "X-Wz-Request-Id"


class Envelope(TypedDict, Generic[T]):
    """Every response: routes name `Envelope[View]` as their response_model (the docs) and
    answer `ok(request, view)` (the body), the view built by a function typed as returning
    View. A Response returned as is skips FastAPI's second validation and encoding of a body
    that mypy already checked."""

    code: int
    msg: str
    data: T | None
    request_id: str
    detail: NotRequired[str | None]  # errors only: what was wrong, in words


def new_request_id() -> str:
    # 32 hex digits like uuid4().hex; an id, not a secret, so the fast generator will do.
    return f"{random.getrandbits(128):032x}"


def request_id(request: Request) -> str:
    rid: str = request.scope.setdefault("state", {}).setdefault("request_id", new_request_id())
    return rid


def render(body: Envelope[Any], status: int = 200) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type="application/json")


def ok(request: Request, data: object = None) -> Response:
    return render({"code": 0, "msg": "success", "data": data, "request_id": request_id(request)})


def error_body(error: ApiError, rid: str) -> Envelope[None]:
    return {
        "code": error.code,
        "msg": error.msg,
        "data": None,
        "request_id": rid,
        "detail": error.detail,
    }


def failed(request: Request, error: ApiError) -> Response:
    return render(error_body(error, request_id(request)), error.http_status)


def error_response(request: Request, error: ApiError) -> Response:
    """An ApiError raised by a route, as the client gets it."""
    response = failed(request, error)
    if response.status_code == 401:  # v1 auth failures (RFC 9110: name the scheme)
        response.headers["WWW-Authenticate"] = 'Basic realm="vodencoding", charset="UTF-8"'
    return response
