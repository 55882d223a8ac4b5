"""What every control route shares: the optional token, and errors as real HTTP statuses.

Control routes answer plain JSON (not the vendor envelope); a failure is
`{"code", "msg", "detail", "request_id"}` with the HTTP status below, so `curl -f` and any
HTTP client see it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute

from emulator.api.deps import ContextDep
from emulator.api.envelope import error_body, render, request_id
from emulator.errors import ApiError, AuthFail, BadParam

TOKEN_COOKIE = "emulator_control_token"
TAG = "emulator"

HTTP_STATUS = {1000: 500, 1001: 400, 1002: 400, 1003: 401, 1004: 404, 1005: 409, 1006: 409}


def http_status(error: ApiError | None) -> int:
    """The HTTP status the control surface (and the dashboard's pages) answers for `error`."""
    return 200 if error is None else HTTP_STATUS.get(error.code, 500)


class TokenRequired(AuthFail):
    """The control token is missing or wrong: HTTP 401 wherever it is raised."""

    http_status = 401


def control_failed(request: Request, error: ApiError) -> Response:
    response = render(error_body(error, request_id(request)), http_status(error))
    if error.code == AuthFail.code:
        response.headers["WWW-Authenticate"] = 'Bearer realm="transcode-emulator control"'
    return response


class ControlRoute(APIRoute):
    """Turns ApiError and validation errors raised anywhere in the route into control errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return control_failed(request, error)
            except RequestValidationError as exc:
                return control_failed(request, BadParam(describe(exc)))

        return guarded


def describe(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


def require_control_token(request: Request, ctx: ContextDep) -> None:
    """With EMULATOR_CONTROL_TOKEN set: `Authorization: Bearer <token>` or the cookie."""
    expected = ctx.settings.control_token
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        given = request.cookies.get(TOKEN_COOKIE, "")
    if not given:
        raise TokenRequired(
            "the control API needs a token: send 'Authorization: Bearer <EMULATOR_CONTROL_TOKEN>'"
        )
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise TokenRequired("wrong control token")


def control_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for control routes (error statuses as above)."""
    return APIRouter(route_class=ControlRoute, **kwargs)


TokenDep = Depends(require_control_token)
