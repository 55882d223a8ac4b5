"""Migrations: HEAD_REVISION names Alembic's head, and a database at head starts without Alembic."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from emulator.db.engine import Database
from emulator.db.migrate import HEAD_REVISION, alembic_config, current_revision, migrate


def _imports_alembic(function: str, url: str) -> bool:
    """Whether a new process calling emulator.db.migrate's `function` on `url` imports Alembic."""
    code = (
        "import sys; from emulator.db.engine import Database; "
        f"from emulator.db.migrate import {function}; "
        f"{function}(Database({url!r})); print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"True": True, "False": False}[done.stdout.strip()]


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
    assert not _imports_alembic("migrate", url)


def _dump(url: str) -> list[str]:
    """Every statement that rebuilds the database, sorted (Alembic's index order varies)."""
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        return sorted(connection.iterdump())


def test_a_fresh_database_is_a_copy_of_the_one_alembic_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("first.sqlite3", "second.sqlite3"))
    migrate(Database(first), lock_dir=tmp_path)  # Alembic, then kept as the template
    (template,) = (tmp_path / "cache" / "transcode-emulator").iterdir()
    assert template.name.startswith(f"schema-{HEAD_REVISION}-")
    copied = Database(second)
    migrate(copied, lock_dir=tmp_path)
    assert current_revision(copied) == HEAD_REVISION
    with copied.engine.connect() as connection:  # still WAL, and whole
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA quick_check").scalar() == "ok"
    copied.dispose()
    assert _dump(second) == _dump(first)  # schema, built-in templates and version stamp


@pytest.mark.parametrize("cache", ["cache", "cache #1?%20"])
def test_a_fresh_database_with_a_template_starts_without_alembic(
    cache: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where the cache path holds `#` or `?`: read as a URI naively, they cut the path
    short, SQLite opened (and created) another, empty file, and the copy was of nothing."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / cache))
    migrate(Database(f"sqlite:///{tmp_path / 'first.sqlite3'}"))
    url = f"sqlite:///{tmp_path / 'second.sqlite3'}"
    assert not _imports_alembic("migrate", url)
    assert current_revision(Database(url)) == HEAD_REVISION
    assert _dump(url) == _dump(f"sqlite:///{tmp_path / 'first.sqlite3'}")
    assert not (tmp_path / "cache ").exists()


def test_an_unwritable_cache_only_means_alembic_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cache").write_text("a file where the cache dir would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("first.sqlite3", "second.sqlite3"):
        db = Database(f"sqlite:///{tmp_path / name}")
        migrate(db)
        assert current_revision(db) == HEAD_REVISION
        db.dispose()
    assert _dump(f"sqlite:///{tmp_path / 'second.sqlite3'}") == _dump(
        f"sqlite:///{tmp_path / 'first.sqlite3'}"
    )


def test_a_process_that_waited_for_the_lock_finds_the_database_migrated(tmp_path: Path) -> None:
    """What migrate() runs under the file lock checks the revision again: the process that held
    the lock before has usually migrated already, and Alembic then stays unimported."""
    url = f"sqlite:///{tmp_path / 'emulator.sqlite3'}"
    migrate(Database(url))
    assert not _imports_alembic("_sqlite_to_head", url)
