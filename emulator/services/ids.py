"""Identifiers in the vendor's formats (SPEC.md sections 3-5)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

_UTC8 = timezone(timedelta(hours=8))


def hex_id(length: int = 16) -> str:
    return secrets.token_hex(length // 2 + 1)[:length]


def task_id(created: float) -> str:
    """14 digits of the creation time in UTC+8 (YYYYMMDDHHMMSS) and 18 lowercase hex."""
    return datetime.fromtimestamp(created, _UTC8).strftime("%Y%m%d%H%M%S") + hex_id(18)


def rfc1123(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def utc_text(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")
