"""The read cache (emulator/db/readcache.py) never serves what another connection changed: a
commit from another thread, another connection of the same thread, or another process is
seen by the very next read; a hit runs no SELECT; entries expire by age."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from emulator.db.readcache import ReadCache


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "cache.db"
    with sqlite3.connect(file) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        conn.execute("INSERT INTO t VALUES (1, 'a')")
    return file


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(path: Path, clock: Clock) -> Iterator[ReadCache]:
    cache = ReadCache(f"sqlite:///{path}", max_age_s=30, timer=clock)
    yield cache
    cache.dispose()


@pytest.fixture
def statements(cache: ReadCache) -> list[str]:
    seen: list[str] = []
    assert cache.engine is not None

    @event.listens_for(cache.engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


def value(session: Session) -> str:
    return str(session.execute(text("SELECT v FROM t WHERE k = 1")).scalar_one())


def write(path: Path, v: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE t SET v = ? WHERE k = 1", (v,))
    conn.close()


def selects(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def test_a_hit_runs_no_select(cache: ReadCache, statements: list[str]) -> None:
    assert cache.get("k", value) == "a"
    assert len(selects(statements)) == 1
    statements.clear()
    assert cache.get("k", value) == "a"
    assert selects(statements) == []
    assert statements == ["BEGIN", "PRAGMA data_version"]  # and a rollback on return


def test_a_commit_from_another_thread_is_seen_next(cache: ReadCache, path: Path) -> None:
    assert cache.get("k", value) == "a"
    writer = threading.Thread(target=write, args=(path, "b"))
    writer.start()
    writer.join()
    assert cache.get("k", value) == "b"


def test_a_commit_of_another_connection_in_the_same_thread_is_seen_next(
    cache: ReadCache, path: Path
) -> None:
    assert cache.get("k", value) == "a"
    write(path, "b")
    assert cache.get("k", value) == "b"
    write(path, "c")
    assert cache.get("k", value) == "c"


def test_a_commit_from_another_process_is_seen_next(cache: ReadCache, path: Path) -> None:
    assert cache.get("k", value) == "a"
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute(\"UPDATE t SET v = 'p' WHERE k = 1\")\n"
        "c.commit()\n"
        "c.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=30)
    assert cache.get("k", value) == "p"


def test_each_thread_has_its_own_entries_and_sees_every_commit(
    cache: ReadCache, path: Path
) -> None:
    got: list[str] = []

    def read() -> None:
        got.append(cache.get("k", value))

    for v in ("a", "b"):
        if v != "a":
            write(path, v)
        for _ in range(2):
            reader = threading.Thread(target=read)
            reader.start()
            reader.join()
        assert cache.get("k", value) == v
    assert got == ["a", "a", "b", "b"]


def test_entries_expire_by_age(cache: ReadCache, clock: Clock, statements: list[str]) -> None:
    assert cache.get("k", value) == "a"
    clock.now += 29
    assert cache.get("k", value) == "a"
    assert len(selects(statements)) == 1
    clock.now += 2  # 31 s after the entry was built
    assert cache.get("k", value) == "a"
    assert len(selects(statements)) == 2


def test_keys_are_separate_and_errors_are_not_cached(
    cache: ReadCache, statements: list[str]
) -> None:
    def missing(session: Session) -> str:
        session.execute(text("SELECT v FROM t WHERE k = 2")).scalar_one()
        return "never"

    assert cache.get("one", value) == "a"
    assert cache.get("two", lambda s: value(s) + "!") == "a!"
    for _ in range(2):
        with pytest.raises(Exception, match="No row"):
            cache.get("missing", missing)
    assert len(selects(statements)) == 4


def test_the_cached_connection_cannot_write(cache: ReadCache) -> None:
    def update(session: Session) -> None:
        session.execute(text("UPDATE t SET v = 'x' WHERE k = 1"))

    with pytest.raises(Exception, match="readonly"):
        cache.get("w", update)


def test_no_read_transaction_stays_open(cache: ReadCache, path: Path) -> None:
    """The WAL can be checkpointed fully after a read: no snapshot is held between reads."""
    assert cache.get("k", value) == "a"
    write(path, "b")
    with sqlite3.connect(path) as conn:
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://user@localhost/none", "sqlite://", "sqlite:///:memory:"]
)
def test_no_cache_on_postgresql_or_in_memory(url: str) -> None:
    cache = ReadCache(url)
    assert cache.engine is None
    with pytest.raises(RuntimeError):
        cache.get("k", value)
