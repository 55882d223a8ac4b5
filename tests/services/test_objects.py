"""Browsing helpers of services/objects.py: how a key is shown, breadcrumbs, errors as codes."""

from __future__ import annotations

import pytest

from emulator.errors import BadParam, EmptyResult, OperationFail
from emulator.services import objects
from emulator.storage.store import ObjectNotFound, ObjectStoreError


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("out/index.m3u8", "hls"),
        ("out/manifest.mpd", "dash"),
        ("out.MP4", "mp4"),
        ("thumbs/0001.jpg", "image"),
        ("a.webp", "image"),
        ("out.flv", ""),
        ("seg-0.ts", ""),
    ],
)
def test_viewer_by_extension(key: str, kind: str) -> None:
    assert objects.viewer(key) == kind


@pytest.mark.parametrize(
    ("prefix", "crumbs"),
    [
        ("", []),
        ("ui/", [("ui", "ui/")]),
        ("ui/out/", [("ui", "ui/"), ("out", "ui/out/")]),
        ("ui/o", [("ui", "ui/")]),
    ],
)
def test_parents_are_the_whole_folders(prefix: str, crumbs: list[tuple[str, str]]) -> None:
    assert objects.parents(prefix) == crumbs


class Failing:
    def __init__(self, error: ObjectStoreError) -> None:
        self.error = error

    def list_page(self, *args: object, **kwargs: object) -> None:
        raise self.error


def test_a_missing_bucket_is_an_empty_result() -> None:
    store = Failing(ObjectNotFound("s3://x/: NoSuchBucket: gone", code="NoSuchBucket"))
    with pytest.raises(EmptyResult, match="bucket 'x': no such bucket"):
        objects.list_page(store=store, bucket="x", prefix="", limit=10, token=None)  # type: ignore[arg-type]


def test_other_store_errors_are_operation_fail() -> None:
    store = Failing(ObjectStoreError("s3://x/: AccessDenied: no", code="AccessDenied"))
    with pytest.raises(OperationFail, match="AccessDenied"):
        objects.list_page(store=store, bucket="x", prefix="", limit=10, token=None)  # type: ignore[arg-type]


def test_limits_are_bounded_and_a_missing_store_is_refused() -> None:
    with pytest.raises(BadParam):
        objects.list_page(store=None, bucket="x", prefix="", limit=0, token=None)
    with pytest.raises(OperationFail, match="not started"):
        objects.list_buckets(store=None)


@pytest.mark.parametrize("bucket", ["bad name", "x:y", "", "a/b"])
def test_a_bucket_name_boto3_would_refuse_is_a_bad_param(bucket: str) -> None:
    with pytest.raises(BadParam, match="is not a bucket name"):
        objects.list_page(store=None, bucket=bucket, prefix="", limit=10, token=None)
    with pytest.raises(BadParam, match="is not a bucket name"):
        objects.describe(store=None, bucket=bucket, key="k")
