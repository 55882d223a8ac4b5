"""/_emulator/inbox/{name}: a built-in receiver of task callbacks (or any request), and its log.

Receiving (POST, PUT) is open without the control token, like samples: the emulator's own
deliverer and other servers post there and carry none; a browser page on a foreign origin still
cannot, as SiteGuard refuses cross-site writes to /_emulator/. Reading and clearing take the
token where one is set. Part of the control surface: absent with EMULATOR_CONTROL=off.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool

from emulator.api.deps import ContextDep
from emulator.context import Context
from emulator.control.common import TAG, TokenDep, control_router
from emulator.services import inbox

INBOX_PATH = "/_emulator/inbox/"

# Open: no token (app.py includes it beside samples).
receiver = control_router(prefix="/_emulator", tags=[TAG])
# Token where set.
router = control_router(prefix="/_emulator", tags=[TAG], dependencies=[TokenDep])


def is_inbox_path(path: str) -> bool:
    """Whether a URL path names an inbox (what a storage's notify may point at)."""
    if not path.startswith(INBOX_PATH):
        return False
    name = path.removeprefix(INBOX_PATH)
    return bool(inbox.NAME.fullmatch(name)) and name not in (".", "..")


# One route per method: one operation id each in the OpenAPI schema.
@receiver.post("/inbox/{name}", operation_id="inbox_receive_post")
@receiver.put("/inbox/{name}", operation_id="inbox_receive_put")
async def receive(name: str, request: Request, ctx: ContextDep) -> dict[str, Any]:
    """Record the request (any body up to 1 MiB); the newest EMULATOR_INBOX_SIZE are kept."""
    inbox.check_name(name)  # before reading a body that would not be kept
    body = await request.body()
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
    # The write waits on the database: off the event loop (tests/api/test_event_loop.py).
    return await run_in_threadpool(_store, ctx, name, request.method, headers, body)


def _store(
    ctx: Context, name: str, method: str, headers: list[tuple[str, str]], body: bytes
) -> dict[str, Any]:
    with ctx.db.write() as session:
        entry = inbox.receive(
            session,
            name=name,
            method=method,
            headers=headers,
            body=body,
            now=time.time(),
            keep=ctx.settings.inbox_size,
        )
        return {"inbox": name, "id": entry.id, "received_at": entry.received_at}


@router.get("/inbox/{name}")
def read(
    name: str,
    ctx: ContextDep,
    limit: Annotated[int | None, Query(ge=1, description="at most this many")] = None,
) -> dict[str, Any]:
    """Received requests, newest first: time, method, headers and body (secrets masked)."""
    with ctx.db.read() as session:
        entries = inbox.read(session, name=name, limit=limit)
    return {"inbox": name, "entries": entries, "num": len(entries)}


@router.delete("/inbox/{name}")
def clear(name: str, ctx: ContextDep) -> dict[str, Any]:
    """Forget the inbox's requests."""
    with ctx.db.write() as session:
        cleared = inbox.clear(session, name=name)
    return {"inbox": name, "cleared": cleared}
