"""Fixtures of the scale-out tests: a PostgreSQL database per module, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale.pg import fresh_database


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """This module's own PostgreSQL database (created here, dropped at the end)."""
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend: a fresh SQLite file, or this module's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'emulator.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url
