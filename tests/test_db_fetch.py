"""Database.fetch: the hot read path sees every commit, from any connection or process."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from emulator.db.engine import Database, migrate
from emulator.db.models import AccessKey


def make_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'emulator.sqlite3'}")
    migrate(db, lock_dir=tmp_path)
    return db


def add_key(db: Database, key_id: str, secret: str) -> None:
    with db.write() as session:
        session.add(
            AccessKey(access_key_id=key_id, access_key_secret=secret, enabled=True, created_at=0)
        )


def test_fetch_sees_commits_of_other_connections_and_processes(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    assert db.fetch(AccessKey, "AKFETCH000000001") is None
    add_key(db, "AKFETCH000000001", "a" * 32)  # this process, another connection
    first = db.fetch(AccessKey, "AKFETCH000000001")
    assert first is not None and first.enabled is True  # booleans converted as the ORM does
    assert db.fetch(AccessKey, "AKFETCH000000001") is first  # unchanged: served from cache
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute(\"UPDATE access_keys SET enabled = 0 "
        "WHERE access_key_id = 'AKFETCH000000001'\"); c.commit()"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "emulator.sqlite3")], check=True)
    again = db.fetch(AccessKey, "AKFETCH000000001")
    assert again is not None and again.enabled is False
    with db.write() as session:
        row = session.get(AccessKey, "AKFETCH000000001")
        assert row is not None
        session.delete(row)
    assert db.fetch(AccessKey, "AKFETCH000000001") is None
    db.dispose()


def test_each_thread_reads_on_its_own_connection(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    add_key(db, "AKFETCH000000002", "b" * 32)
    seen: list[bool] = []

    def read() -> None:
        key = db.fetch(AccessKey, "AKFETCH000000002")
        seen.append(key is not None and key.access_key_secret == "b" * 32)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [True] * 4
    db.dispose()  # closes every thread's connection from this one
