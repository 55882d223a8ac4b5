"""Alembic migrations and their lock: several processes starting at once take turns.

SQLite: a file lock in the data dir, and a new database starts as a copy of the first one
Alembic built on this machine (db/fresh.py). PostgreSQL: an advisory lock held by the
migration's own transaction. Alembic is imported only when there is something to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from emulator.db import fresh
from emulator.db.engine import EXCLUSIVE_LOCK, Database, normalize_url

if TYPE_CHECKING:
    from alembic.config import Config

# The newest file in migrations/versions (tests/test_migrations.py checks that it is).
HEAD_REVISION = "0009"
# Advisory lock key (PostgreSQL scopes it to the current database; db/engine.py lists the others).
MIGRATE_LOCK_KEY = 0x7E57_0002


def migrations_dir() -> Path:
    """migrations/ of a source checkout, else the copy shipped in the wheel."""
    checkout = Path(__file__).resolve().parents[2] / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    return Path(str(resources.files("emulator") / "migrations"))


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def migrate(db: Database, *, lock_dir: Path | None = None, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision`; several processes starting at once take turns.

    SQLite: a file lock in `lock_dir` (processes on one host share the file), and a new
    database starts as a copy of the first one Alembic built on this machine (db/fresh.py).
    PostgreSQL: an advisory lock held by the migration's own transaction (processes on any
    host), so DDL and the version stamp commit together and the next process finds nothing
    left to do.
    """
    if revision == "head" and current_revision(db) == HEAD_REVISION:
        return  # nothing to do, and Alembic stays unimported (a tenth of start-up time)
    if revision == "head" and db.is_sqlite:
        with _file_lock(lock_dir):
            _sqlite_to_head(db)
        return
    _upgrade_or_downgrade(db, lock_dir=lock_dir, revision=revision, up=True)


def _sqlite_to_head(db: Database) -> None:
    """Under the migration lock: what the process that held it before may have done already."""
    if current_revision(db) == HEAD_REVISION:
        return
    template = fresh.template_path(HEAD_REVISION, migrations_dir())
    raw = db.engine.raw_connection()
    try:
        connection = cast(sqlite3.Connection, raw.driver_connection)
        empty = fresh.is_empty(connection)
        if empty and fresh.restore(connection, template):
            return
        _run_alembic(db, revision="head", up=True)
        if empty:
            fresh.save(connection, template)
    finally:
        raw.close()


def current_revision(db: Database) -> str | None:
    """The revision the database is stamped with; None when it has none yet."""
    with db.engine.connect() as connection:
        if not sa_inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def downgrade(db: Database, *, revision: str, lock_dir: Path | None = None) -> None:
    """Undo migrations down to `revision` ("base": all of them)."""
    _upgrade_or_downgrade(db, lock_dir=lock_dir, revision=revision, up=False)


def _upgrade_or_downgrade(db: Database, *, lock_dir: Path | None, revision: str, up: bool) -> None:
    with _file_lock(lock_dir if db.is_sqlite else None):
        _run_alembic(db, revision=revision, up=up)


def _run_alembic(db: Database, *, revision: str, up: bool) -> None:
    with db.engine.begin() as connection:
        if not db.is_sqlite:
            connection.execute(EXCLUSIVE_LOCK, {"key": MIGRATE_LOCK_KEY})
        from alembic import command

        config = alembic_config(db.url)
        config.attributes["connection"] = connection
        (command.upgrade if up else command.downgrade)(config, revision)


@contextlib.contextmanager
def _file_lock(lock_dir: Path | None) -> Iterator[None]:
    if lock_dir is None:
        yield
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / "migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
