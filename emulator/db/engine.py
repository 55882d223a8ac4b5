"""Engine and sessions on SQLite (WAL, the default) or PostgreSQL; write transactions.

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
import logging
import sqlite3
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from emulator.db.readcache import ReadCache

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLite's page cache per connection, in KiB (negative: a size, not a page count). SQLite
# keeps the memory of a full cache, and with up to 26 pooled connections the default 2 MiB
# each grew the soak's RSS for as long as the database grew; the OS page cache below serves
# re-reads just as well.
SQLITE_CACHE_KIB = -256
# Advisory lock keys (PostgreSQL scopes them to the current database). The others of the
# 0x7E57_00xx range: db/migrate.py's MIGRATE_LOCK_KEY, services/nonces.py's PRUNE_LOCK_KEY.
WRITE_LOCK_KEY = 0x7E57_0001
# Per process: every API thread or worker slot holds at most one connection at a time, and
# PostgreSQL's default max_connections (100) must cover every process of the fleet (README).
PG_POOL_SIZE = 5
PG_MAX_OVERFLOW = 15
EXCLUSIVE_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
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
    """One engine, and the two kinds of session the app uses (read, write); the polled reads
    through `read_view`, cached on SQLite (db/readcache.py)."""

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
        self.views = ReadCache(self.url, cache_kib=SQLITE_CACHE_KIB)

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
                session.execute(_SHARED if concurrent else EXCLUSIVE_LOCK, {"key": WRITE_LOCK_KEY})
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self.reader() as session:
            yield session

    def read_view(self, key: Hashable, build: Callable[[Session], T]) -> T:
        """build(session) on a read session: a polled read's answer. On SQLite it may come from
        the read cache (db/readcache.py), which serves it only while no commit happened since;
        key names the route and every parameter the answer depends on."""
        if self.views.engine is None:
            with self.read() as session:
                return build(session)
        return self.views.get(key, build)

    def dispose(self) -> None:
        self.views.dispose()
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
