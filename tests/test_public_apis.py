"""emulator/ uses its dependencies through their public API only (issue 16, point 1).

Every module is parsed (no import): a name or module path starting with `_` imported from a
third-party package fails, as does a name on the deny-list (undocumented internals the
emulator once used) imported from anywhere, and a private attribute read off an object that
comes from a watched library (`sa._thing`, `dialect._json_deserializer`, or the same through
`getattr(obj, "_name")`), where the parse can tell.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emulator"
# Undocumented names that are not spelled with a leading underscore, or that must never come
# back whatever object they are read from.
DENY = {"RouteContext", "iter_route_contexts", "_json_deserializer"}
# The libraries whose objects are watched for private attribute access.
WATCHED = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "uvicorn",
    "boto3",
    "botocore",
    "httpx",
}
# The one exception (issue 16): the embedded S3's persistence needs moto internals, because
# moto has no persistence API. They stay in one adapter module, whose docstring lists each.
ALLOWED = {"storage/moto_s3.py"}


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_third_party(module: str) -> bool:
    top = module.split(".")[0]
    return top != "emulator" and top not in sys.stdlib_module_names


def violations(source: str, filename: str = "<module>") -> list[str]:
    """What in `source` reaches past a dependency's public API, one line each."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    watched_names: set[str] = set()  # local names bound to a watched library's module or object

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not is_third_party(alias.name):
                    continue
                if any(is_private(part) for part in alias.name.split(".")):
                    report(node, f"import {alias.name}")
                if alias.name.split(".")[0] in WATCHED:
                    watched_names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            third_party = is_third_party(node.module)
            private_module = any(is_private(part) for part in node.module.split("."))
            for alias in node.names:
                if alias.name in DENY or (
                    third_party and (private_module or is_private(alias.name))
                ):
                    report(node, f"from {node.module} import {alias.name}")
                if node.module.split(".")[0] in WATCHED:
                    watched_names.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            attr, root = node.attr, _root(node.value)
            if attr in DENY or (is_private(attr) and root in watched_names):
                report(node, f"attribute {attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            attr, root = node.args[1].value, _root(node.args[0])
            if attr in DENY or (is_private(attr) and root in watched_names):
                report(node, f"{node.func.id}(..., {attr!r})")
    return found


def _root(node: ast.expr) -> str | None:
    """The name an attribute chain or call chain starts from: `sa` in `sa.engine.x()._y`."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_emulator_modules_use_public_apis_only() -> None:
    found = [
        line
        for path in modules()
        if path.relative_to(PACKAGE).as_posix() not in ALLOWED
        for line in violations(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == []


def test_the_allow_list_names_files_that_exist() -> None:
    assert {p.relative_to(PACKAGE).as_posix() for p in modules()} >= ALLOWED


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi.routing import RouteContext",
        "from fastapi.routing import iter_route_contexts",
        "from fastapi._compat import something",
        "from sqlalchemy.engine import _private",
        "import pydantic._internal._model_construction",
        "from moto.moto_api._internal import state",
        "import sqlalchemy as sa\nsa.engine._thing",
        "from sqlalchemy.engine import Dialect\ndef f(d: Dialect): return Dialect._x",
        "def f(dialect): return dialect._json_deserializer",
        "def f(dialect): return getattr(dialect, '_json_deserializer', None)",
        "from starlette.requests import Request\ngetattr(Request, '_receive')",
    ],
)
def test_the_check_catches(source: str) -> None:
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi import FastAPI, Request",
        "from sqlalchemy import inspect as sa_inspect",
        "from __future__ import annotations",
        "import os\nos._exit",  # the standard library documents its own
        "from emulator.db.migrate import _file_lock",  # the emulator's own privates
        "class A:\n    def f(self):\n        return self._cache",
        "from starlette.concurrency import run_in_threadpool",
    ],
)
def test_the_check_lets_through(source: str) -> None:
    assert violations(source) == []
