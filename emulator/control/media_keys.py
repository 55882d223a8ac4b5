"""GET /_emulator/media-keys/{task_id}: the AES-128 key of a task's HLS output, for players.

Media delivery, not control: mounted even with EMULATOR_CONTROL=off, without a token or a
signature, like a key server that players reach from the playlist's `#EXT-X-KEY` URI.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from emulator.api.deps import ContextDep
from emulator.db.models import Task

router = APIRouter(prefix="/_emulator", tags=["media"])

# hls.js and Shaka fetch keys with XHR from the page's origin, not the emulator's.
_HEADERS = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}


def hls_key(session: Session, task_id: str) -> bytes | None:
    """The 16-byte key a finished task encrypted its segments with, or None."""
    task = session.get(Task, task_id)
    if task is None or task.deleted:
        return None
    key_hex = (task.media or {}).get("hls_key_hex")
    return bytes.fromhex(key_hex) if isinstance(key_hex, str) else None


@router.get("/media-keys/{task_id}", response_model=None)
def media_key(task_id: str, ctx: ContextDep) -> Response:
    with ctx.db.read() as session:
        key = hls_key(session, task_id)
    if key is None:
        detail = f"task {task_id!r} has no AES-128 key (unknown task, not finished, or unencrypted)"
        return JSONResponse({"detail": detail}, status_code=404, headers=_HEADERS)
    return Response(key, media_type="application/octet-stream", headers=_HEADERS)
