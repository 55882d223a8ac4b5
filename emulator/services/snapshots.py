"""Named snapshots of the whole state: save, list, restore and delete them (README, Snapshots).

A snapshot is a directory `<EMULATOR_SNAPSHOT_DIR>/<name>/`:

    db.sqlite3      the database at one instant (db/snapshot.py), tasks in flight as pending
    objects/        the embedded S3's object files, hard-linked (copied where links fail)
    snapshot.json   what GET /_emulator/snapshots shows: counts, bytes, created, revision

It is written under a dot-name and renamed into place once complete and fsynced, so a
`kill -9` mid-save leaves a dot-directory that is never listed (the next save removes it).
SQLite and the embedded S3 only: PostgreSQL and an external S3 are refused (docs/snapshots.md).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.control.models import SnapshotInfo
from emulator.db import snapshot as snapshot_db
from emulator.db.migrate import HEAD_REVISION
from emulator.db.models import Task
from emulator.errors import BadParam, Duplicated, EmptyResult, OperationFail
from emulator.storage.objectfiles import fsync_dir

if TYPE_CHECKING:
    from emulator.runtime import Runtime

NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
NAME_RULE = "letters, digits, '-', '_' and '.' (not first), 1 to 64 characters"
DB_FILE = "db.sqlite3"
OBJECTS_DIR = "objects"
INFO_FILE = "snapshot.json"


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise BadParam(f"name: {name!r} is not a snapshot name ({NAME_RULE})")
    return name


def list_snapshots(*, runtime: Runtime) -> list[SnapshotInfo]:
    """Every complete snapshot, oldest first."""
    root = runtime.ctx.settings.snapshots_path
    if not root.is_dir():
        return []
    found = [_read_info(path) for path in root.iterdir() if NAME.fullmatch(path.name)]
    return sorted((info for info in found if info), key=lambda info: (info.created, info.name))


def save(*, runtime: Runtime, name: str) -> SnapshotInfo:
    """Save the database and every object as snapshot `name`; an existing name is 1006."""
    check_name(name)
    _refuse_unsupported(runtime)
    assert runtime.s3 is not None
    root = runtime.ctx.settings.snapshots_path
    with runtime.snapshot_lock:
        if (root / name).exists():
            raise Duplicated(
                f"name: snapshot {name!r} exists; delete it first (DELETE /_emulator/snapshots/"
                f"{name}) or choose another name"
            )
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _sweep(root)
        staging = root / f".saving-{uuid.uuid4().hex}"
        staging.mkdir(mode=0o700)
        try:
            # The database first: every task it shows as done uploaded its outputs before it
            # was marked so, and those objects are still there when the objects are linked.
            counts = snapshot_db.save(runtime.ctx.db, staging / DB_FILE)
            objects, size = runtime.s3.export_objects(staging / OBJECTS_DIR)
            info = SnapshotInfo(
                name=name,
                created=time.time(),
                tasks=counts.tasks,
                storages=counts.storages,
                templates=counts.templates,
                objects=objects,
                bytes=size + (staging / DB_FILE).stat().st_size,
                revision=counts.revision,
            )
            _write_file(staging / INFO_FILE, info.model_dump_json(indent=2).encode())
            fsync_dir(staging)
            os.replace(staging, root / name)
            fsync_dir(root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return info


def restore(*, runtime: Runtime, name: str) -> SnapshotInfo:
    """Replace the whole state with snapshot `name`: stop tasks in flight, load its objects,
    then its database in one transaction, and wake the worker (its pending tasks run again)."""
    check_name(name)
    _refuse_unsupported(runtime)
    assert runtime.s3 is not None
    root = runtime.ctx.settings.snapshots_path
    with runtime.snapshot_lock:
        info = _read_info(root / name)
        if info is None:
            raise EmptyResult(f"name: no snapshot {name!r} in {root}")
        source = root / name / DB_FILE
        work: Path | None = None
        if info.revision != HEAD_REVISION:
            _check_older(info)
            work = snapshot_db.migrated_copy(source, root / f".migrating-{uuid.uuid4().hex}")
            source = work
        try:
            _stop_tasks(runtime)
            # Objects before rows: a restored pending task finds its input once claimable.
            runtime.s3.replace_objects(root / name / OBJECTS_DIR)
            snapshot_db.load(runtime.ctx.db, source)
        finally:
            if work is not None:
                work.unlink(missing_ok=True)
        runtime.restored()
    return info


def delete(*, runtime: Runtime, name: str) -> None:
    check_name(name)
    root = runtime.ctx.settings.snapshots_path
    with runtime.snapshot_lock:
        if _read_info(root / name) is None:
            raise EmptyResult(f"name: no snapshot {name!r} in {root}")
        trash = root / f".deleting-{uuid.uuid4().hex}"
        os.replace(root / name, trash)  # gone from the list at once, even if rmtree is cut short
        fsync_dir(root)
        shutil.rmtree(trash, ignore_errors=True)


def _refuse_unsupported(runtime: Runtime) -> None:
    if not runtime.ctx.db.is_sqlite:
        raise OperationFail(
            "snapshots: not supported with a PostgreSQL database (EMULATOR_DATABASE_URL); "
            "use pg_dump for it (docs/snapshots.md)"
        )
    if runtime.s3 is None:
        raise OperationFail(
            "snapshots: not supported with an external S3 (EMULATOR_S3_ENDPOINT_URL); they "
            "cover the embedded S3's objects only"
        )


def _check_older(info: SnapshotInfo) -> None:
    """Refuse a snapshot whose schema this emulator does not know (a newer emulator's)."""
    from alembic.script import ScriptDirectory

    from emulator.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if info.revision not in {rev.revision for rev in script.walk_revisions()}:
        raise OperationFail(
            f"name: snapshot {info.name!r} has schema revision {info.revision}, newer than "
            f"this emulator's {HEAD_REVISION} (or unknown to it): restore it with the emulator "
            "version that saved it"
        )


def _stop_tasks(runtime: Runtime) -> None:
    """Tasks in flight stop first, as at a reset: hidden, then their ffmpeg cancelled."""
    if runtime.worker is None:
        return
    with runtime.ctx.db.write() as session:
        session.execute(Task.__table__.update().values(deleted=True))  # type: ignore[attr-defined]
    runtime.worker.cancel_all()


def _read_info(path: Path) -> SnapshotInfo | None:
    try:
        return SnapshotInfo.model_validate_json((path / INFO_FILE).read_bytes())
    except (OSError, ValueError):
        return None  # not a snapshot (or not ours)


def _sweep(root: Path) -> None:
    """Remove what a save, restore or delete cut short by a kill left (dot-names only)."""
    for path in root.iterdir():
        if path.name.startswith((".saving-", ".deleting-")):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(".migrating-"):
            path.unlink(missing_ok=True)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
