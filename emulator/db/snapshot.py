"""A snapshot's database: the live SQLite database copied out at one instant, and copied back.

Out: SQLite's backup API on a connection holding a read transaction, so the copy is one
committed state however many writers run meanwhile (WAL: they never wait for it). In: the
snapshot attached to a pooled connection, every table emptied and refilled from it inside one
BEGIN IMMEDIATE, so readers see the old state or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from emulator.db.engine import Database
from emulator.db.tasks import IN_FLIGHT, PENDING
from emulator.services.templates import BUILT_IN

# Everything a snapshot restores. Not nonces (the replay window belongs to the requests of
# now, not of then) nor alembic_version (the live schema's stamp stays; snapshot.json has the
# snapshot's). The request log is in memory, never in the database.
TABLES = (
    "access_keys",
    "storages",
    "templates",
    "tasks",
    "kv",
    "callback_deliveries",
    "inbox_entries",
)


@dataclass(frozen=True)
class Counts:
    tasks: int
    storages: int
    templates: int
    revision: str


def save(db: Database, dest: Path) -> Counts:
    """Write the live database to `dest` (a new file), settled as a snapshot keeps it."""
    raw = db.engine.raw_connection()
    try:
        live = cast(sqlite3.Connection, raw.driver_connection)
        with contextlib.closing(sqlite3.connect(dest)) as copy:
            # Pooled connections run in autocommit mode and begin their own transactions
            # (db/engine.py): this one reads, and the backup copies what it sees.
            live.execute("BEGIN")
            try:
                live.execute("SELECT count(*) FROM sqlite_master").fetchone()
                live.backup(copy)
            finally:
                live.execute("ROLLBACK")
            counts = _settle(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    finally:
        raw.close()
    os.chmod(dest, 0o600)  # access keys and storage credentials, as in the data dir
    with open(dest, "rb") as f:
        os.fsync(f.fileno())
    return counts


def _settle(copy: sqlite3.Connection) -> Counts:
    """Tasks in flight become pending, as a restart requeues a dead worker's tasks
    (db/tasks.py: in flight -> pending): the snapshot holds no worker that could finish them."""
    marks = ",".join("?" * len(IN_FLIGHT))
    with copy:
        # del_task of a task in flight: hidden already, removed once its ffmpeg stopped.
        copy.execute("DELETE FROM tasks WHERE deleted")
        copy.execute(
            "UPDATE tasks SET status = ?, worker_id = NULL, heartbeat_at = NULL, progress = 0"
            f" WHERE status IN ({marks})",
            (PENDING, *IN_FLIGHT),
        )
        copy.execute("DELETE FROM nonces")
    return Counts(
        tasks=_count(copy, "SELECT count(*) FROM tasks"),
        storages=_count(copy, "SELECT count(*) FROM storages"),
        templates=_count(copy, "SELECT count(*) FROM templates WHERE template_type != ?", BUILT_IN),
        revision=str(copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]),
    )


def _count(connection: sqlite3.Connection, sql: str, *params: str) -> int:
    return int(connection.execute(sql, params).fetchone()[0])


def migrated_copy(source: Path, work: Path) -> Path:
    """A copy of an older snapshot's database, taken to this emulator's schema by Alembic."""
    from emulator.db.migrate import migrate

    shutil.copyfile(source, work)
    db = Database(f"sqlite:///{work}")
    try:
        migrate(db)
    finally:
        db.dispose()
    return work


def load(db: Database, source: Path) -> None:
    """Replace every table of TABLES in the live database with the snapshot's, at once."""
    raw = db.engine.raw_connection()
    try:
        live = cast(sqlite3.Connection, raw.driver_connection)
        # ATTACH is refused inside a transaction: attach first, then one write transaction.
        live.execute("ATTACH DATABASE ? AS snapshot", (str(source),))
        try:
            live.execute("BEGIN IMMEDIATE")
            try:
                for table in TABLES:
                    columns = ", ".join(_shared_columns(live, table))
                    live.execute(f"DELETE FROM main.{table}")
                    live.execute(
                        f"INSERT INTO main.{table} ({columns})"
                        f" SELECT {columns} FROM snapshot.{table}"
                    )
                live.execute("COMMIT")
            except BaseException:
                live.execute("ROLLBACK")
                raise
        finally:
            live.execute("DETACH DATABASE snapshot")
    finally:
        raw.close()


def _shared_columns(live: sqlite3.Connection, table: str) -> list[str]:
    # After migrated_copy both have the same columns; the intersection keeps an edited
    # schema from inserting into a column that is not there.
    mine = [row[1] for row in live.execute(f"PRAGMA main.table_info({table})")]
    theirs = {row[1] for row in live.execute(f"PRAGMA snapshot.table_info({table})")}
    return [f'"{name}"' for name in mine if name in theirs]
