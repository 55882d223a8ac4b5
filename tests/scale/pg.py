"""A throwaway PostgreSQL database per test module, on the server EMULATOR_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

SERVER_URL = os.environ.get(
    "EMULATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def server_or_skip() -> None:
    """Skip, loudly, when no PostgreSQL server answers (only that: other errors fail)."""
    engine = create_engine(SERVER_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        pytest.skip(
            f"NO POSTGRESQL SERVER at {make_url(SERVER_URL).render_as_string()}: the "
            f"PostgreSQL half of the scale-out tests did not run. Start one or point "
            f"EMULATOR_TEST_POSTGRES_URL at one ({str(exc).splitlines()[0]})"
        )
    finally:
        engine.dispose()


@contextmanager
def fresh_database(prefix: str = "emulator_test") -> Iterator[str]:
    """CREATE DATABASE <prefix>_<random>; yields its URL; drops it (and its connections)."""
    server_or_skip()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
