"""The service tier's database: a migrated SQLite file in the test's temp dir, no server.

Modules that run on both backends (nonces, summary) define their own `db`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.db.engine import Database
from emulator.db.migrate import migrate


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'emulator.sqlite3'}")
    migrate(database, lock_dir=tmp_path)
    yield database
    database.dispose()
