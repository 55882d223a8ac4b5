"""What a listing of the object store says, read from S3's ListObjectsV2 and HeadObject answers.

Kept apart from store.py, which makes the calls (and passes its content-type guess in): these
are plain values the dashboard shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# S3 answers at most 1000 keys per ListObjectsV2 call, whatever MaxKeys asks.
MAX_KEYS = 1000


@dataclass(frozen=True)
class BucketInfo:
    name: str
    created: float | None


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: float | None
    # From the key's extension in listings (S3 lists no Content-Type), stored value from HEAD.
    content_type: str
    etag: str = ""


@dataclass(frozen=True)
class ObjectPage:
    """One page under a prefix: its "folders" (common prefixes) and objects, in S3's one order."""

    bucket: str
    prefix: str
    folders: list[str]
    objects: list[ObjectInfo]
    next_token: str | None


def buckets_from(response: Any) -> list[BucketInfo]:
    found = [
        BucketInfo(name=b["Name"], created=_ts(b.get("CreationDate")))
        for b in response.get("Buckets", [])
    ]
    return sorted(found, key=lambda b: b.name)


def page_from(
    response: Any, *, bucket: str, prefix: str, guess: Callable[[str], str]
) -> ObjectPage:
    objects = [
        ObjectInfo(
            key=item["Key"],
            size=int(item.get("Size", 0)),
            modified=_ts(item.get("LastModified")),
            content_type=guess(item["Key"]),
            etag=str(item.get("ETag", "")).strip('"'),
        )
        for item in response.get("Contents", [])
        # A console-made "folder" is an empty object named like the prefix itself.
        if item["Key"] != prefix or not prefix.endswith("/")
    ]
    folders = [p["Prefix"] for p in response.get("CommonPrefixes", [])]
    token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
    return ObjectPage(
        bucket=bucket, prefix=prefix, folders=folders, objects=objects, next_token=token
    )


def object_from(response: Any, *, key: str, guess: Callable[[str], str]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        modified=_ts(response.get("LastModified")),
        content_type=str(response.get("ContentType") or guess(key)),
        etag=str(response.get("ETag", "")).strip('"'),
    )


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None
