"""Migrations: HEAD_REVISION names Alembic's head, and a database at head starts without Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from emulator.db.engine import (
    HEAD_REVISION,
    Database,
    alembic_config,
    current_revision,
    migrate,
)


def test_head_revision_is_alembics_head(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(alembic_config(f"sqlite:///{tmp_path / 'x.sqlite3'}"))
    assert script.get_heads() == [HEAD_REVISION]


def test_migrate_stamps_head_and_then_has_nothing_to_import(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'emulator.sqlite3'}"
    db = Database(url)
    assert current_revision(db) is None
    migrate(db, lock_dir=tmp_path)
    assert current_revision(db) == HEAD_REVISION
    db.dispose()
    again = (
        "import sys; from emulator.db.engine import Database, migrate; "
        f"migrate(Database({url!r})); print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", again], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
