"""Vendor-style parameters: query for GET, JSON body otherwise (query as fallback), 1001/1002.

FastAPI's own validation answers 422, which no vendor client understands, so routes declare a
pydantic model and take it through `params(Model)`; `openapi(Model, method)` documents it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from emulator.errors import BadParam, LackParam

M = TypeVar("M", bound=BaseModel)

MAX_JSON_DEPTH = 32


class VendorParams(BaseModel):
    """Base of every request model: unknown parameters are ignored (SPEC.md section 1)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


async def raw_params(request: Request) -> dict[str, Any]:
    if request.method != "GET":
        body = await request.body()
        if body.strip():
            return json_object(body)
    pairs = request.query_params.multi_items()
    query = dict(pairs)
    if len(query) != len(pairs):
        raise BadParam("a query parameter is given more than once")
    return query


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON object of parameters, or BadParam saying why not (the dashboard's forms too)."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text)
    except UnicodeDecodeError as exc:
        raise BadParam(f"request body is not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BadParam(
            f"malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise BadParam(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise BadParam(f"JSON body has a number that cannot be read: {exc}") from None
    if not isinstance(value, dict):
        raise BadParam("JSON body must be an object of parameters")
    if _depth(value) > MAX_JSON_DEPTH:
        raise BadParam(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any, level: int = 1) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def validate(model: type[M], raw: dict[str, Any]) -> M:
    """The model from raw parameters; missing or empty required ones are 1001, the rest 1002."""
    for name, field in model.model_fields.items():
        if field.is_required() and raw.get(name) in (None, ""):
            raise LackParam(f"{name} is required")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "parameters"
        raise BadParam(f"{where}: {_message(error)}") from None


def _message(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def params(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency that parses and validates `model` from the request."""

    async def dependency(request: Request) -> M:
        return validate(model, await raw_params(request))

    dependency.__name__ = f"params_{model.__name__}"
    return dependency


def openapi(model: type[BaseModel], method: str) -> dict[str, Any]:
    """openapi_extra documenting `model` as query parameters (GET) or a JSON body."""
    schema = _inline_defs(model.model_json_schema())
    if method == "GET":
        required = set(schema.get("required", []))
        return {
            "parameters": [
                {"name": name, "in": "query", "required": name in required, "schema": prop}
                for name, prop in schema.get("properties", {}).items()
            ]
        }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `#/$defs/X` references replaced by X: inside an OpenAPI document such a
    reference resolves against the document root, where no `$defs` exists."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
