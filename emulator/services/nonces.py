"""X-Wz-Nonce replay protection (SPEC.md section 2): the nonces seen within the Date skew window.

In this process's memory (`NonceCache`, bounded by `cachetools.TTLCache`), or, once
`share_through(db)` is called, in the database's nonces table (`SharedNonces`): with several
API nodes on PostgreSQL behind a load balancer, a replay may reach any of them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.engine import Connection
from sqlmodel import col

from emulator.db.engine import Database
from emulator.db.models import Nonce

# The in-memory bound (README, Security). A client that sends a fresh nonce with every request
# reaches it within minutes; past it the oldest nonces are forgotten first, so memory stays at
# what the cap takes instead of growing with the request rate.
MAX_ENTRIES = 100_000
# Nonce.nonce's length: a longer nonce is stored as its SHA-256.
MAX_STORED_CHARS = 128
PRUNE_EVERY_S = 30.0
# Advisory lock key (PostgreSQL scopes it to the current database; db/engine.py lists the others).
PRUNE_LOCK_KEY = 0x7E57_0003

Clock = Callable[[], float]


def digest(nonce: str) -> int:
    """The in-memory key: 64 bits of BLAKE2b, a small int whatever the nonce's length.

    A collision (odds about 1 in 10^9 at MAX_ENTRIES) would refuse one request as a replay.
    """
    return int.from_bytes(hashlib.blake2b(nonce.encode(), digest_size=8).digest(), "big")


class NonceCache:
    """Nonces seen within the last `window_s` seconds; at most `maxsize` of them in memory.

    An entry is a 64-bit digest (not the nonce, whatever its length), TTLCache's expiry link
    and its two dict slots: a few hundred bytes, so under 30 MB at MAX_ENTRIES. Entries are
    only inserted, never read back with `[]`, so TTLCache's least-recently-used eviction at
    the cap drops the oldest nonce first.
    """

    def __init__(
        self, window_s: float, *, maxsize: int = MAX_ENTRIES, clock: Clock = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._seen: TTLCache[int, bool] = TTLCache(maxsize=maxsize, ttl=window_s, timer=clock)
        self._lock = threading.Lock()  # TTLCache is not thread-safe; API threads share this
        self._shared: SharedNonces | None = None

    def share_through(self, db: Database) -> None:
        """From now on, decide through the database's nonces table (every node sees it)."""
        self._shared = SharedNonces(db, window_s=self._window_s)

    def check_and_add(self, nonce: str) -> bool:
        """False when the nonce was seen within the window (a replay); else remember it."""
        if self._shared is not None:
            return self._shared.check_and_add(nonce)
        key = digest(nonce)
        with self._lock:
            if key in self._seen:  # an expired entry reads as absent
                return False
            self._seen[key] = True
            return True

    def __len__(self) -> int:
        """Entries held in memory (expired ones included until the next insert drops them)."""
        with self._lock:
            return len(self._seen)

    def clear(self) -> None:
        if self._shared is not None:
            self._shared.clear()
        with self._lock:
            self._seen.clear()


class SharedNonces:
    """The nonces table: one atomic upsert per request decides "fresh" for every node."""

    def __init__(self, db: Database, *, window_s: float, clock: Clock = time.time) -> None:
        self._db = db
        self._window_s = window_s
        self._clock = clock  # the real clock: nodes compare each other's seen_at
        self._pruned_at = 0.0  # so a new node prunes on its first check

    def check_and_add(self, nonce: str) -> bool:
        now = self._clock()
        cutoff = now - self._window_s
        with self._db.engine.begin() as connection:
            if not self._db.is_sqlite:  # losing the last nonces in a server crash is harmless
                connection.execute(sa.select(sa.func.set_config("synchronous_commit", "off", True)))
            fresh = record(connection, nonce=nonce, now=now, cutoff=cutoff)
        if now - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = now
            with self._db.engine.begin() as connection:
                prune(connection, cutoff=cutoff)
        return fresh

    def clear(self) -> None:
        with self._db.engine.begin() as connection:
            connection.execute(sa.delete(Nonce))


def stored_form(nonce: str) -> str:
    if len(nonce) > MAX_STORED_CHARS:
        return "sha256:" + hashlib.sha256(nonce.encode()).hexdigest()
    return nonce


def record(connection: Connection, *, nonce: str, now: float, cutoff: float) -> bool:
    """Store the nonce as seen at `now`; False when a row seen after `cutoff` holds it.

    Inserted, or an expired row taken over: fresh. A live row is left alone: a replay.
    """
    insert = _insert_for(connection.dialect.name)(Nonce).values(
        nonce=stored_form(nonce), seen_at=now
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[col(Nonce.nonce)],
        set_={"seen_at": insert.excluded.seen_at},
        where=col(Nonce.seen_at) < cutoff,
    ).returning(col(Nonce.nonce))
    return connection.execute(upsert).first() is not None


def prune(connection: Connection, *, cutoff: float) -> None:
    """Delete the rows seen before `cutoff`; on PostgreSQL one node at a time (others skip),
    so concurrent deletes never deadlock."""
    if connection.dialect.name == "postgresql":
        took = connection.execute(sa.select(sa.func.pg_try_advisory_xact_lock(PRUNE_LOCK_KEY)))
        if not took.scalar():
            return
    connection.execute(sa.delete(Nonce).where(col(Nonce.seen_at) < cutoff))


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT, imported where used (the PostgreSQL dialect is
    slow to import, and a SQLite deployment never needs it)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert
