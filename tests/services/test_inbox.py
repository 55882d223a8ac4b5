"""services/inbox.list_names: the inboxes holding entries, with counts, newest activity first."""

from __future__ import annotations

from pathlib import Path

from emulator.db.engine import Database
from emulator.db.migrate import migrate
from emulator.services import inbox


def test_list_names_counts_each_inbox_newest_first(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'emulator.sqlite3'}")
    migrate(db, lock_dir=tmp_path)
    try:
        with db.write() as session:
            for name, now in (("a", 1.0), ("b", 2.0), ("a", 3.0), ("c", 0.5)):
                inbox.receive(
                    session, name=name, method="POST", headers=[], body=b"{}", now=now, keep=10
                )
            inbox.clear(session, name="c")
        with db.read() as session:
            assert inbox.list_names(session) == [
                {"name": "a", "count": 2, "newest": 3.0},
                {"name": "b", "count": 1, "newest": 2.0},
            ]
    finally:
        db.dispose()
