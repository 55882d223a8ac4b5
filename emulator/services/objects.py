"""Browsing the object store (the embedded S3 or an external one): buckets, keys, one object.

Object-store failures become API errors here: a missing bucket or key is 1004 (empty result),
anything else S3 says is 1005 (operation fail), with S3's own code and message as the detail.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from emulator.errors import ApiError, BadParam, EmptyResult, OperationFail
from emulator.storage.store import ObjectNotFound, ObjectStoreError

if TYPE_CHECKING:
    from emulator.storage.listing import BucketInfo, ObjectInfo, ObjectPage
    from emulator.storage.store import ObjectStore

# What the object page shows for a key, by its extension.
PLAYERS = {".m3u8": "hls", ".mpd": "dash", ".mp4": "mp4"}
IMAGES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
MAX_LIMIT = 1000
# The widest name boto3 accepts (legacy buckets included); S3 itself answers the rest.
BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")


def list_buckets(*, store: ObjectStore | None) -> list[BucketInfo]:
    try:
        return _store(store).list_buckets()
    except ObjectStoreError as exc:
        raise _api_error(exc, "") from exc


def list_page(
    *, store: ObjectStore | None, bucket: str, prefix: str, limit: int, token: str | None
) -> ObjectPage:
    """At most `limit` keys (1 to 1000) and folders of `bucket` under `prefix`, from `token` on."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadParam(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    check_bucket(bucket)
    try:
        return _store(store).list_page(bucket, prefix=prefix, limit=limit, token=token)
    except ObjectStoreError as exc:
        raise _api_error(exc, f"bucket {bucket!r}") from exc


def describe(*, store: ObjectStore | None, bucket: str, key: str) -> ObjectInfo:
    check_bucket(bucket)
    try:
        return _store(store).head(bucket, key)
    except ObjectStoreError as exc:
        raise _api_error(exc, f"object s3://{bucket}/{key}") from exc


def check_bucket(bucket: str) -> str:
    if not BUCKET_NAME.fullmatch(bucket):
        raise BadParam(f"bucket: {bucket!r} is not a bucket name (letters, digits, '.', '-', '_')")
    return bucket


def viewer(key: str) -> str:
    """How the dashboard shows an object: "hls", "dash", "mp4", "image" or "" (download only)."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in IMAGES:
        return "image"
    return PLAYERS.get(suffix, "")


def parents(prefix: str) -> list[tuple[str, str]]:
    """(name, prefix) of each whole folder in `prefix` (up to its last '/'), for a breadcrumb."""
    found: list[tuple[str, str]] = []
    path = ""
    for part in prefix.split("/")[:-1]:
        path += f"{part}/"
        found.append((part, path))
    return found


def _store(store: ObjectStore | None) -> ObjectStore:
    if store is None:
        raise OperationFail("the object store is not started yet")
    return store


def _api_error(exc: ObjectStoreError, what: str) -> ApiError:
    if isinstance(exc, ObjectNotFound):
        missing = "bucket" if exc.code == "NoSuchBucket" else "object"
        subject = what or missing
        return EmptyResult(f"{subject}: no such {missing} in the object store ({exc.message})")
    return OperationFail(f"{what or 'object store'}: {exc.message}")
