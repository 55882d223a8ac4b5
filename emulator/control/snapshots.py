"""Control API: named snapshots of the whole state (save, list, restore, delete).

Restoring replaces every task, storage, template, key, callback delivery and object with the
snapshot's; tasks in flight stop first. SQLite and the embedded S3 only (docs/snapshots.md).
"""

from __future__ import annotations

from fastapi import Request, Response

from emulator.control.common import control_router
from emulator.control.models import SnapshotIn, SnapshotInfo
from emulator.services import snapshots

router = control_router(prefix="/snapshots")


@router.get("")
def list_snapshots(request: Request) -> list[SnapshotInfo]:
    """Every snapshot, oldest first, with its counts and size."""
    return snapshots.list_snapshots(runtime=request.app.state.runtime)


@router.post("", status_code=201)
def save_snapshot(request: Request, body: SnapshotIn) -> SnapshotInfo:
    """Save the database (request log excluded) and every embedded-S3 object as `name`."""
    return snapshots.save(runtime=request.app.state.runtime, name=body.name)


@router.post("/{name}/restore")
def restore_snapshot(request: Request, name: str) -> SnapshotInfo:
    """Replace the current state with the snapshot; its pending tasks run again."""
    return snapshots.restore(runtime=request.app.state.runtime, name=name)


@router.delete("/{name}", status_code=204)
def delete_snapshot(request: Request, name: str) -> Response:
    snapshots.delete(runtime=request.app.state.runtime, name=name)
    return Response(status_code=204)
