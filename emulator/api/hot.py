"""Hot routes: the busiest read routes, answered without FastAPI's per-request machinery.

Profiled under wrk (README, Performance), dependency solving, routing and the request/response
wrappers were two thirds of query_task's time. A route marked `@hot` is still declared with
FastAPI as usual (OpenAPI, the same endpoint function, the same guards); `HotRoutes`, a pure
ASGI layer inside RequestContext, looks up (method, path) in a dict and runs that route's own
guards, parameter dependencies and endpoint, compiled once at start from its declaration.
Only what the route's declaration says runs, so the two paths cannot drift apart; a hot route
that declares something this layer cannot serve fails at start, not at request time.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.params import Depends
from fastapi.responses import Response
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.api.deps import get_context
from emulator.api.envelope import error_response
from emulator.context import Context
from emulator.errors import ApiError

F = TypeVar("F", bound=Callable[..., Awaitable[Response]])


def hot(endpoint: F) -> F:
    """Mark an async route endpoint for the hot path (its guards and parameters must be plain:
    Request, ContextDep, or a dependency taking only the request)."""
    endpoint.__hot__ = True  # type: ignore[attr-defined]
    return endpoint


# How a compiled route fills each endpoint parameter.
REQUEST, CONTEXT = "request", "ctx"
Dependency = Callable[[Request], Awaitable[Any]]


@dataclass(frozen=True)
class CompiledRoute:
    guards: tuple[Callable[[Request, Context], Awaitable[None]], ...]
    endpoint: Callable[..., Awaitable[Response]]
    arguments: tuple[tuple[str, str | Dependency], ...]

    async def __call__(self, request: Request, ctx: Context) -> Response:
        for guard in self.guards:
            await guard(request, ctx)
        kwargs: dict[str, Any] = {}
        for name, source in self.arguments:
            if source == REQUEST:
                kwargs[name] = request
            elif source == CONTEXT:
                kwargs[name] = ctx
            else:
                kwargs[name] = await source(request)  # type: ignore[operator]
        return await self.endpoint(**kwargs)


class HotRoutes:
    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, ctx: Context) -> None:
        self.app = app
        self.ctx = ctx
        self.routes = compile_routes(fastapi)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope.get("method", ""), scope.get("path", "")))
        if route is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await route(request, self.ctx)
        except ApiError as exc:
            response = error_response(request, exc)
        await response(scope, receive, send)


def compile_routes(app: FastAPI) -> dict[tuple[str, str], CompiledRoute]:
    """Every `@hot` route as included (prefix and router dependencies applied).

    Only routers holding a hot route are walked: FastAPI builds a router's routes as included
    on first use, ~0.7 ms each, and the others need not pay that during start-up.
    """
    table = {}
    for route in iter_route_contexts([r for r in app.routes if _holds_hot(r)]):
        if _is_hot(route.original_route):
            compiled = _compile(route)
            for method in route.methods or ():
                table[(method, str(route.path))] = compiled
    return table


def _holds_hot(route: BaseRoute) -> bool:
    router = getattr(route, "original_router", None)  # an included router
    if router is not None:
        return any(_holds_hot(child) for child in router.routes)
    return _is_hot(route)


def _is_hot(route: BaseRoute) -> bool:
    return isinstance(route, APIRoute) and getattr(route.endpoint, "__hot__", False)


def _compile(route: RouteContext) -> CompiledRoute:
    if not inspect.iscoroutinefunction(route.endpoint):
        raise TypeError(f"hot route {route.path}: the endpoint must be async")
    guards = []
    for depends in route.dependencies:
        guard = depends.dependency
        names = list(inspect.signature(guard).parameters) if guard else []
        if names != ["request", "ctx"] or not inspect.iscoroutinefunction(guard):
            raise TypeError(f"hot route {route.path}: guard {guard} must be async (request, ctx)")
        guards.append(guard)
    hints = typing.get_type_hints(route.endpoint, include_extras=True)
    arguments = []
    for name in inspect.signature(route.endpoint).parameters:
        arguments.append((name, _provider(route, name, hints.get(name))))
    return CompiledRoute(tuple(guards), route.endpoint, tuple(arguments))


def _provider(route: RouteContext, name: str, hint: Any) -> str | Dependency:
    if hint is Request:
        return REQUEST
    depends = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Depends)), None)
    dependency = depends.dependency if depends is not None else None
    if dependency is get_context:
        return CONTEXT
    if inspect.iscoroutinefunction(dependency) and list(
        inspect.signature(dependency).parameters
    ) == ["request"]:
        return dependency
    raise TypeError(f"hot route {route.path}: parameter {name!r} cannot be served hot")
