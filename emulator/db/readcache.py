"""A small cache of the polled reads' answers on SQLite, never stale (issue 16, point 4).

What is cached: the built view a `read_*` function returns (the dict the envelope carries,
presigned URLs included), keyed by the route and its parameters. Each thread has its own
entries and its own connection: a second engine on the same URL with SQLAlchemy's
`SingletonThreadPool`, which gives each thread one connection of its own.

Why it is never stale: `PRAGMA data_version` on a connection changes exactly when ANOTHER
connection (of this process or any other) committed to the database file (SQLite docs,
"PRAGMA data_version"). Every read first opens a read transaction on the thread's connection
and takes data_version in it, so the value belongs to the very snapshot the read then sees.
A changed value drops all of the thread's entries; an unchanged one means nothing committed
since the entry was built from a snapshot at least that new. The connection only ever reads
(`PRAGMA query_only`), so no commit of its own can move its data_version unseen, and its
transaction ends when the read does, so the next PRAGMA sees the newest commit.

Entries also expire by age (MAX_AGE_S): a view holds presigned URLs that are valid for a day
(storage/store.py), and a cached one must stay far inside that. Errors (an unknown task) are
not cached. A hit returns the very object built before: callers render it, never change it.
On PostgreSQL (and an in-memory SQLite) there is no cache: every read goes to the
database, as without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.pool import SingletonThreadPool
from sqlmodel import Session

T = TypeVar("T")

# Well under the presigned URLs' lifetime (a day), and long enough for a tight poll loop.
MAX_AGE_S = 30.0
# Per thread; a thread's entries are dropped whole at the next commit of anyone anyway.
MAX_ENTRIES = 512
# Connections kept, one per thread: above the thread pool's 40 threads plus the worker's, so
# the pool never closes the connection of a thread that still reads.
THREADS = 128


class ReadCache:
    """`get(key, build)`: build(session)'s result, from this thread's cache when no
    connection committed since it was built and it is younger than max_age_s."""

    def __init__(
        self,
        url: str,
        *,
        max_age_s: float = MAX_AGE_S,
        max_entries: int = MAX_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
        cache_kib: int = -256,  # SQLite's page cache (db/engine.py's SQLITE_CACHE_KIB)
    ) -> None:
        database = make_url(url).database if url.startswith("sqlite") else None
        # An in-memory database is one per connection: a second engine would not see it.
        self.enabled = bool(database) and database != ":memory:" and "mode=memory" not in url
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self.timer = timer
        self._local = threading.local()
        self.engine = None
        if self.enabled:
            self.engine = create_engine(
                url,
                poolclass=SingletonThreadPool,
                pool_size=THREADS,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            _read_only_pragmas(self.engine, cache_kib)

    def get(self, key: Hashable, build: Callable[[Session], T]) -> T:
        if self.engine is None:
            raise RuntimeError("no read cache on this database (not SQLite)")
        with self.engine.connect() as conn:
            version = conn.exec_driver_sql("PRAGMA data_version").scalar()
            entries = self._entries(version)
            hit = entries.get(key, _MISSING)
            if hit is not _MISSING:
                result: T = hit
                return result
            with Session(bind=conn) as session:
                result = build(session)
        entries[key] = result
        return result

    def _entries(self, version: Any) -> TTLCache[Hashable, Any]:
        local = self._local
        if getattr(local, "version", _MISSING) != version:
            local.version = version
            local.entries = TTLCache(self.max_entries, self.max_age_s, timer=self.timer)
        entries: TTLCache[Hashable, Any] = local.entries
        return entries

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


_MISSING = object()


def _read_only_pragmas(engine: Any, cache_kib: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun by _on_begin below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA cache_size={int(cache_kib)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred BEGIN: the PRAGMA and the read's statements share one snapshot; the
        # connection's return to the pool rolls it back, so no read transaction stays open.
        conn.exec_driver_sql("BEGIN")
