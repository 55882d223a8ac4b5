"""Object URLs (`s3://bucket/key`, `oss://bucket/key`) understood by tasks and views."""

from __future__ import annotations

from urllib.parse import unquote

OBJECT_SCHEMES = ("s3://", "oss://")


def parse_object_url(url: str) -> tuple[str, str] | None:
    """(bucket, key) of an object-store URL, or None for any other scheme."""
    if not url.startswith(OBJECT_SCHEMES):
        return None
    bucket, _, key = url.split("://", 1)[1].partition("/")
    return (bucket, unquote(key)) if bucket and key else None
