"""The callback inbox: requests POSTed to /_emulator/inbox/{name}, the newest N per inbox kept.

Stored in a table (inbox_entries), not in memory: the deliverer of the serving process posts
to whichever API process the base URL reaches, and a reader may reach another one (API nodes
behind a load balancer on PostgreSQL), so every process must see the same inbox. Secrets are
masked as an entry is written, with the request log's rules, so no credential is ever stored:
Authorization-like headers keep their scheme only, cookies and secret-named headers become
***, a JSON body has its secret-named fields masked, other text its `secret=...` patterns.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from emulator.db.models import InboxEntry
from emulator.errors import BadParam
from emulator.services.requestlog import (
    MASK,
    SECRET_NAMES,
    mask,
    mask_authorization,
    mask_text,
)

MAX_BODY_BYTES = 1024 * 1024  # the same cap as every request (middleware.MAX_BODY_BYTES)
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "x-api-key", "x-auth-token"})
TEXT, BASE64 = "text", "base64"


def check_name(name: str) -> str:
    """Letters, digits and `-_.`, up to 64 (not `.` or `..`, which URLs fold away)."""
    if not NAME.fullmatch(name) or name in (".", ".."):
        raise BadParam(f"inbox name {name!r}: use letters, digits and -_. (up to 64)")
    return name


def receive(
    session: Session,
    *,
    name: str,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: float,
    keep: int,
) -> InboxEntry:
    """Record one request (masked) and drop what falls past the newest `keep` of its inbox."""
    if len(body) > MAX_BODY_BYTES:
        raise BadParam(f"request body is larger than {MAX_BODY_BYTES} bytes")
    text, encoding = _body(body)
    entry = InboxEntry(
        inbox=check_name(name),
        received_at=now,
        method=method,
        headers=mask_headers(headers),
        body=text,
        body_encoding=encoding,
        size=len(body),
    )
    session.add(entry)
    session.flush()
    oldest_kept = (
        select(InboxEntry.id)
        .where(InboxEntry.inbox == name)
        .order_by(col(InboxEntry.id).desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    session.execute(
        delete(InboxEntry).where(col(InboxEntry.inbox) == name, col(InboxEntry.id) < oldest_kept)
    )
    return entry


def read(session: Session, *, name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The inbox's entries, newest first."""
    query = (
        select(InboxEntry)
        .where(InboxEntry.inbox == check_name(name))
        .order_by(col(InboxEntry.id).desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [view(entry) for entry in session.exec(query)]


def list_names(session: Session) -> list[dict[str, Any]]:
    """Each inbox that holds entries: name, how many, when the newest came; newest first."""
    newest = func.max(InboxEntry.received_at)
    query = (
        select(InboxEntry.inbox, func.count(col(InboxEntry.id)), newest)
        .group_by(col(InboxEntry.inbox))
        .order_by(newest.desc())
    )
    return [
        {"name": name, "count": count, "newest": last} for name, count, last in session.exec(query)
    ]


def clear(session: Session, *, name: str) -> int:
    """Forget one inbox's entries; returns how many there were."""
    result = session.execute(delete(InboxEntry).where(col(InboxEntry.inbox) == check_name(name)))
    return int(getattr(result, "rowcount", 0) or 0)


def clear_all(session: Session) -> None:
    """Forget every inbox (reset of state)."""
    session.execute(delete(InboxEntry))


def view(entry: InboxEntry) -> dict[str, Any]:
    """An entry as the control API shows it; `json` is the body parsed, when it is JSON."""
    parsed: Any = None
    if entry.body_encoding == TEXT:
        try:
            parsed = json.loads(entry.body)
        except ValueError:
            parsed = None
    return {
        "id": entry.id,
        "inbox": entry.inbox,
        "received_at": entry.received_at,
        "method": entry.method,
        "headers": entry.headers,
        "body": entry.body,
        "body_encoding": entry.body_encoding,
        "size": entry.size,
        "json": parsed,
    }


def mask_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased (a repeated one joined by ", "), secrets masked."""
    kept: dict[str, str] = {}
    for raw_name, value in headers:
        name = raw_name.lower()
        if name in AUTH_HEADERS:
            value = mask_authorization(value)
        elif name in SECRET_HEADERS or any(word in name for word in SECRET_NAMES):
            value = MASK
        else:
            value = mask_text(value)
        kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept


def _body(body: bytes) -> tuple[str, str]:
    """(text, "text") for UTF-8, masked; (base64, "base64") for anything else, as received."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), BASE64
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return mask_text(text), TEXT
    masked = mask(value)
    if masked == value:
        return text, TEXT
    # Re-written masked rather than pattern-masked: an escaped quote cannot hide a secret.
    return json.dumps(masked, ensure_ascii=False), TEXT
