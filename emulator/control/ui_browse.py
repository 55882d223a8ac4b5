"""Browsing what the emulator holds: buckets and objects, named snapshots, callback inboxes.

The forms post to this router; the dashboard's server side calls the same service functions
as the API (never a signed API call from the browser). Cross-site posts never get here: the
middleware refuses a foreign Origin or Sec-Fetch-Site: cross-site on the control surface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from emulator.api.deps import ContextDep
from emulator.control.common import TokenDep, http_status
from emulator.control.inbox import INBOX_PATH
from emulator.control.ui import FRAGMENTS, PREFIX, FormDep, UiRoute, _render
from emulator.errors import ApiError
from emulator.services import inbox, objects, snapshots, storages

# Pages, not API: kept out of the OpenAPI schema, as the other dashboard routes are.
views = APIRouter(
    prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep], include_in_schema=False
)
Prefix = Annotated[str, Query(description="only keys starting with this")]
Token = Annotated[str | None, Query(description="where the previous page ended")]
PageSize = Annotated[int, Query(ge=1, le=objects.MAX_LIMIT)]
# What each snapshot action's notice says once it worked (the page is reached by a redirect).
DONE = {"saved": "Saved", "restored": "Restored", "deleted": "Deleted"}
# An inbox keeps up to EMULATOR_INBOX_SIZE requests; its page, refreshed every second, shows these.
SHOWN_ENTRIES = 200


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def object_url(bucket: str, key: str = "") -> str:
    path = f"{PREFIX}/objects/{quote(bucket, safe='')}"
    return f"{path}/{quote(key)}" if key else path


def folder_url(bucket: str, prefix: str, **extra: Any) -> str:
    query = urlencode({"prefix": prefix, **extra}) if prefix or extra else ""
    return object_url(bucket) + (f"?{query}" if query else "")


# Objects ------------------------------------------------------------------------------------


@views.get("/objects")
def buckets_page(request: Request, ctx: ContextDep) -> Any:
    """Every bucket the object store shows the emulator's key pair, and the storages on each."""
    found = objects.list_buckets(store=ctx.objects)
    with ctx.db.read() as session:
        on_bucket: dict[str, list[str]] = {}
        for storage in storages.list_all(session=session):
            on_bucket.setdefault(storage.bucket, []).append(storage.storage_id)
    rows = [
        {
            "name": b.name,
            "created": b.created,
            "url": object_url(b.name),
            "storages": on_bucket.get(b.name, []),
        }
        for b in found
    ]
    return _render(
        request,
        "objects.html",
        active="objects",
        title="Objects",
        rows=rows,
        endpoint=ctx.s3_endpoint or "",
    )


@views.get("/objects/{bucket}")
def bucket_page(
    request: Request,
    ctx: ContextDep,
    bucket: str,
    prefix: Prefix = "",
    limit: PageSize = 100,
    token: Token = None,
) -> Any:
    """One page of a bucket's keys under a prefix, folders at '/', a presigned link each."""
    page = objects.list_page(
        store=ctx.objects, bucket=bucket, prefix=prefix, limit=limit, token=token
    )
    rows = [
        {
            "key": item.key,
            "name": item.key.removeprefix(prefix),
            "size": human_bytes(item.size),
            "bytes": item.size,
            "content_type": item.content_type,
            "modified": item.modified,
            "url": object_url(bucket, item.key),
            "download": ctx.presign(bucket, item.key),
        }
        for item in page.objects
    ]
    folders = [
        {"name": folder.removeprefix(prefix), "url": folder_url(bucket, folder)}
        for folder in page.folders
    ]
    more = folder_url(bucket, prefix, limit=limit, token=page.next_token) if page.next_token else ""
    return _render(
        request,
        "bucket.html",
        active="objects",
        title=f"s3://{bucket}/{prefix}",
        bucket=bucket,
        key_prefix=prefix,  # `prefix` is the dashboard's own URL prefix in every template
        crumbs=[(name, folder_url(bucket, path)) for name, path in objects.parents(prefix)],
        bucket_url=object_url(bucket),
        folders=folders,
        rows=rows,
        next_url=more,
        first_url=folder_url(bucket, prefix, limit=limit) if token else "",
        limit=limit,
    )


@views.get("/objects/{bucket}/{key:path}")
def object_page(request: Request, ctx: ContextDep, bucket: str, key: str) -> Any:
    """One object: its metadata, a player (HLS, DASH, MP4) or an image, a presigned download."""
    info = objects.describe(store=ctx.objects, bucket=bucket, key=key)
    url = ctx.presign(bucket, key)
    kind = objects.viewer(key)
    folder = key.rpartition("/")[0] + "/" if "/" in key else ""
    return _render(
        request,
        "object.html",
        active="objects",
        title=f"s3://{bucket}/{key}",
        bucket=bucket,
        key=key,
        info=info,
        size=human_bytes(info.size),
        kind=kind,
        url=url,
        players=[{"format": kind, "key": key, "url": url}]
        if kind in objects.PLAYERS.values()
        else [],
        bucket_url=object_url(bucket),
        crumbs=[(name, folder_url(bucket, path)) for name, path in objects.parents(folder)],
    )


# Snapshots ----------------------------------------------------------------------------------


@views.get("/snapshots")
def snapshots_page(request: Request, done: str = "", name: str = "") -> Any:
    notice = f"{DONE[done]} snapshot {name!r}." if done in DONE and name else ""
    return _snapshots_page(request, notice=notice)


def _snapshots_page(
    request: Request, *, notice: str = "", error: ApiError | None = None, name: str = ""
) -> Any:
    found = snapshots.list_snapshots(runtime=request.app.state.runtime)
    rows = [{**info.model_dump(), "size": human_bytes(info.bytes)} for info in reversed(found)]
    return _render(
        request,
        "snapshots.html",
        http_status(error),
        active="snapshots",
        title="Snapshots",
        rows=rows,
        notice=notice,
        error=error,
        snapshot_name=name,
        name_rule=snapshots.NAME_RULE,
    )


@views.post("/snapshots")
async def save_snapshot(request: Request, form: FormDep) -> Any:
    """Save the whole state under the form's name; errors shown on the form."""
    name = form.get("name", "").strip()
    return await _snapshot_action(request, "saved", name, snapshots.save)


@views.post("/snapshots/{name}/restore")
async def restore_snapshot(request: Request, name: str) -> Any:
    return await _snapshot_action(request, "restored", name, snapshots.restore)


@views.post("/snapshots/{name}/delete")
async def delete_snapshot(request: Request, name: str) -> Any:
    return await _snapshot_action(request, "deleted", name, snapshots.delete)


async def _snapshot_action(
    request: Request, done: str, name: str, action: Callable[..., object]
) -> Any:
    runtime = request.app.state.runtime
    try:
        # Saving and restoring copy files and wait on the database: off the event loop.
        await run_in_threadpool(lambda: action(runtime=runtime, name=name))
    except ApiError as error:
        return _snapshots_page(request, error=error, name=name if done == "saved" else "")
    query = urlencode({"done": done, "name": name})
    return RedirectResponse(f"{PREFIX}/snapshots?{query}", status_code=303)


# Inbox --------------------------------------------------------------------------------------


@views.get("/inbox")
def inboxes_page(request: Request, ctx: ContextDep) -> Any:
    """The inboxes that hold requests, newest activity first."""
    with ctx.db.read() as session:
        rows = inbox.list_names(session)
    for row in rows:
        row["url"] = f"{PREFIX}/inbox/{row['name']}"
    return _render(
        request,
        "inboxes.html",
        active="inbox",
        title="Inbox",
        rows=rows,
        receive_base=f"{ctx.settings.api_base_url}{INBOX_PATH}",
    )


@views.get("/inbox/{name}")
@views.get("/fragments/inbox/{name}")
def inbox_page(request: Request, ctx: ContextDep, name: str, cleared: int | None = None) -> Any:
    """An inbox's requests, newest first: time, method, masked headers, the body (JSON pretty).

    The fragment is the list of requests, refreshed live.
    """
    with ctx.db.read() as session:
        entries = inbox.read(session, name=name, limit=SHOWN_ENTRIES)
    live: dict[str, Any] = {"inbox_name": name, "entries": entries, "shown": SHOWN_ENTRIES}
    if request.url.path.startswith(FRAGMENTS):
        return _render(request, "_inbox_entries.html", **live)
    return _render(
        request,
        "inbox.html",
        active="inbox",
        title=f"Inbox {name}",
        cleared=cleared,
        receive_url=f"{ctx.settings.api_base_url}{INBOX_PATH}{name}",
        keep=ctx.settings.inbox_size,
        live_url=f"{FRAGMENTS}/inbox/{name}",
        **live,
    )


@views.post("/inbox/{name}/clear")
def clear_inbox(ctx: ContextDep, name: str) -> Any:
    with ctx.db.write() as session:
        cleared = inbox.clear(session, name=name)
    return RedirectResponse(f"{PREFIX}/inbox/{name}?cleared={cleared}", status_code=303)
