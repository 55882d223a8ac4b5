"""Engine and sessions on SQLite (WAL, the default) or PostgreSQL; write transactions; migrations.

Both backends give the services the same model: reads never wait, and a write transaction
(`Database.write()`) runs alone among writers, so a read-check-write in a service is safe.
SQLite gets that from BEGIN IMMEDIATE; PostgreSQL from an advisory lock taken first thing in
the transaction (exclusive), at READ COMMITTED so every statement after the lock sees every
earlier commit. The worker's task-row transactions (`write(concurrent=True)`) take that lock
shared instead: they run beside each other and lock their rows themselves (claims with
FOR UPDATE SKIP LOCKED, heartbeats and stage moves with FOR UPDATE), and still never overlap
an exclusive writer such as del_task or the control API.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlmodel import Session

from emulator.db import fresh

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# The newest file in migrations/versions (tests/test_migrations.py checks that it is).
HEAD_REVISION = "0005"
# SQLite's page cache per connection, in KiB (negative: a size, not a page count). SQLite
# keeps the memory of a full cache, and with up to 26 pooled connections the default 2 MiB
# each grew the soak's RSS for as long as the database grew; the OS page cache below serves
# re-reads just as well.
SQLITE_CACHE_KIB = -256
# Advisory lock keys (PostgreSQL scopes them to the current database).
WRITE_LOCK_KEY = 0x7E57_0001
MIGRATE_LOCK_KEY = 0x7E57_0002
NONCE_PRUNE_LOCK_KEY = 0x7E57_0003
# Per process: every API thread or worker slot holds at most one connection at a time, and
# PostgreSQL's default max_connections (100) must cover every process of the fleet (README).
PG_POOL_SIZE = 5
PG_MAX_OVERFLOW = 15
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:key)")
_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)")


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// mean PostgreSQL through psycopg 3 (the driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_url(url: str) -> str:
    """The URL with its password masked, for banners and logs."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """One engine, and the two kinds of session the app uses (read, write)."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=16
            )
            _sqlite_pragmas(self.engine)
        else:
            self.engine = create_engine(
                self.url,
                # Required by the write lock: each statement sees what committed before it.
                isolation_level="READ COMMITTED",
                pool_size=PG_POOL_SIZE,
                max_overflow=PG_MAX_OVERFLOW,
                pool_pre_ping=True,  # the server restarted or dropped an idle connection
                connect_args={
                    "connect_timeout": 10,
                    "application_name": "transcode-emulator",
                    # A stalled process must not hold the write lock for ever.
                    "options": "-c idle_in_transaction_session_timeout=60000",
                },
            )
        # SQLite: writers take the lock up front (BEGIN IMMEDIATE), so a read-then-write
        # transaction never fails with "database is locked" when another writer got there first.
        self._write_engine = self.engine.execution_options(immediate=True)

    def reader(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def writer(self) -> Session:
        """A session for writing; `write()` adds the transaction and, on PostgreSQL, the lock."""
        return Session(self._write_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write(self, *, concurrent: bool = False) -> Iterator[Session]:
        """A write transaction, committed on exit (before any response is sent).

        concurrent=True: for task-row work that locks its rows itself (FOR UPDATE); on
        PostgreSQL it runs beside other such transactions. Same as the default on SQLite.
        """
        with self.writer() as session, session.begin():
            if not self.is_sqlite:
                session.execute(_SHARED if concurrent else _EXCLUSIVE, {"key": WRITE_LOCK_KEY})
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self.reader() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(connection: sqlite3.Connection) -> None:
    """The settings of every SQLite connection the pool opens."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed transaction survives a killed process (kill -9);
    # only an OS crash or power cut may lose the last few (README, "Durability").
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size={SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun by _on_begin below
        _configure_sqlite(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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
            connection.execute(_EXCLUSIVE, {"key": MIGRATE_LOCK_KEY})
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
