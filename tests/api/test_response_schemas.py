"""What OpenAPI documents for each polled read is what its body holds (one TypedDict each)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

NOW = int(time.time())
WINDOW = {"start_time": NOW - 60, "end_time": NOW + 60}
ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/api/query_task", {"task_id": "{task_id}"}),
    ("/api/list_task", WINDOW),
    ("/api/list_summary", {}),
    ("/api/query_template", {"name": "480p"}),
    ("/api/list_template", {}),
    ("/api/list_storage", {}),
    ("/vodencoding/v1/query_task", {"task_id": "{task_id}"}),
    ("/vodencoding/v1/list_task", WINDOW),
    ("/vodencoding/v1/list_summary", {}),
    ("/vodencoding/v1/query_template", {"template_name": "480p"}),
    ("/vodencoding/v1/list_template", {}),
    ("/vodencoding/v1/list_storage", {}),
]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return resolve(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return resolve(spec, options[0]) if len(options) == 1 else schema


def check(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """Every documented property present; no other unless the schema allows extensions."""
    schema = resolve(spec, schema)
    if value is None:  # a nullable field
        return
    if schema.get("type") == "array":
        for i, item in enumerate(value):
            check(spec, schema["items"], item, f"{where}[{i}]")
    if schema.get("type") != "object" or "properties" not in schema:
        return
    documented = set(schema["properties"])
    assert set(schema.get("required", [])) <= set(value), where
    if not schema.get("additionalProperties"):
        assert set(value) <= documented, f"{where}: undocumented {set(value) - documented}"
    for name in documented & set(value):
        check(spec, schema["properties"][name], value[name], f"{where}.{name}")


@pytest.mark.parametrize(("path", "params"), ROUTES, ids=[path for path, _ in ROUTES])
def test_the_documented_schema_is_the_body(
    emulator: EmulatorServer,
    api: TranscodeClient,
    storage_id: str,
    path: str,
    params: dict[str, Any],
) -> None:
    task_id = api.call(
        "POST",
        "/api/create_task",
        {
            "template_name": "480p",
            "input": "http://x/i.mp4",
            "output": "o.mp4",
            "storage_id": storage_id,
        },
    )["task_id"]
    spec = httpx.get(f"{emulator.base_url}/openapi.json", timeout=30).json()
    response = spec["paths"][path]["get"]["responses"]["200"]
    envelope = response["content"]["application/json"]["schema"]
    query = {name: str(value).format(task_id=task_id) for name, value in params.items()}
    data = api.call("GET", path, query)
    data_schema = resolve(spec, envelope)["properties"]["data"]
    assert resolve(spec, data_schema).get("properties"), f"{path}: data is not documented"
    check(spec, data_schema, data, path)
