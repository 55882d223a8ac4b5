"""New SQLite databases start as a copy of one Alembic built, kept in the user's cache dir.

Alembic takes ~120 ms to import and run: a tenth of start-up, paid by every fresh data dir
(each test, each benchmark, `docker compose up`). The first fresh database on a machine is
migrated by Alembic as usual, then copied to
`$XDG_CACHE_HOME/transcode-emulator/schema-<revision>-<digest>.sqlite3`; later fresh databases
are that copy, written with SQLite's backup API. The digest covers the migration files and the
SQLite version, so an edited migration builds a new copy. A cache dir that cannot be written
only costs the time saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)


def is_empty(connection: sqlite3.Connection) -> bool:
    """No table at all: a database that was never migrated (not one taken down to base)."""
    return bool(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0)


def template_path(revision: str, migrations: Path) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(sqlite3.sqlite_version.encode())
    for path in sorted((migrations / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return cache / "transcode-emulator" / f"schema-{revision}-{digest.hexdigest()[:16]}.sqlite3"


def restore(connection: sqlite3.Connection, template: Path) -> bool:
    """Copy `template` into the empty database of `connection`; False if there is none."""
    try:
        # A URI (read-only), so the path is percent-encoded: `?` or `#` in it stay the path's.
        source = sqlite3.connect(f"{template.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False  # none yet
    try:
        source.backup(connection)
    except sqlite3.Error as exc:
        log.warning("could not copy the schema from %s (%s): migrating with Alembic", template, exc)
        return False
    finally:
        source.close()
    return True


def save(connection: sqlite3.Connection, template: Path) -> None:
    """Keep a just-migrated database as the template (one file: rollback journal, not WAL)."""
    partial = template.with_name(f"{template.name}.{os.getpid()}.tmp")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(partial)) as copy:
            connection.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        os.replace(partial, template)
    except (OSError, sqlite3.Error) as exc:
        log.debug("not keeping a schema template at %s: %s", template, exc)
        with contextlib.suppress(OSError):
            partial.unlink()
