"""ObjectStore against a real embedded S3 server over HTTP: transfers, presigning, errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulator.storage.embedded import EmbeddedS3
from emulator.storage.store import (
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    ObjectTooLarge,
    parse_object_url,
)

BUCKET = "media"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3]:
    s3 = EmbeddedS3(port=0, data_dir=tmp_path_factory.mktemp("data"))
    s3.start()
    try:
        yield s3
    finally:
        s3.stop()


@pytest.fixture(scope="module")
def module_store(server: EmbeddedS3) -> ObjectStore:
    # boto3 client creation costs ~0.15 s: one store for the module, emptied per test.
    return ObjectStore(endpoint_url=server.endpoint_url)


@pytest.fixture
def store(server: EmbeddedS3, module_store: ObjectStore) -> ObjectStore:
    server.reset()
    module_store.ensure_bucket(BUCKET)
    return module_store


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def put(store: ObjectStore, tmp_path: Path, key: str, body: bytes) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(body)
    store.upload_file(source, BUCKET, key)


def test_ping_is_true_when_the_endpoint_answers(store: ObjectStore) -> None:
    assert store.ping() is True


def test_ping_is_false_quickly_when_nothing_listens(closed_port: int) -> None:
    store = ObjectStore(endpoint_url=f"http://127.0.0.1:{closed_port}")
    began = time.perf_counter()

    assert store.ping() is False
    assert time.perf_counter() - began < 2


def test_ensure_bucket_creates_only_once(store: ObjectStore) -> None:
    assert store.bucket_exists("outputs") is False
    assert store.ensure_bucket("outputs") is True
    assert store.ensure_bucket("outputs") is False
    assert store.bucket_exists("outputs") is True


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("hls/index.m3u8", "application/vnd.apple.mpegurl"),
        ("hls/seg-0001.ts", "video/mp2t"),
        ("out.mp4", "video/mp4"),
        ("out.flv", "video/x-flv"),
        ("dash/chunk-1.m4s", "video/iso.segment"),
        ("dash/manifest.mpd", "application/dash+xml"),
        ("cover.JPG", "image/jpeg"),
        ("notes.unknownsuffix", "application/octet-stream"),
    ],
)
def test_upload_file_sets_content_type_from_the_suffix(
    store: ObjectStore, tmp_path: Path, name: str, content_type: str
) -> None:
    put(store, tmp_path, name, b"x")

    response = httpx.get(store.presign_get(BUCKET, name))
    assert response.headers["content-type"] == content_type


def test_upload_file_explicit_content_type_wins(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "a.ts"
    source.write_bytes(b"x")

    store.upload_file(source, BUCKET, "a.ts", content_type="text/plain")

    assert httpx.get(store.presign_get(BUCKET, "a.ts")).headers["content-type"] == "text/plain"


def test_upload_file_to_a_missing_bucket_raises_not_found(
    store: ObjectStore, tmp_path: Path
) -> None:
    source = tmp_path / "a.ts"
    source.write_bytes(b"x")

    with pytest.raises(ObjectNotFound) as caught:
        store.upload_file(source, "no-such-bucket", "a.ts")
    assert caught.value.code == "NoSuchBucket"


def test_download_file_writes_the_body_and_returns_its_size(
    store: ObjectStore, tmp_path: Path
) -> None:
    body = bytes(range(256)) * 1000
    put(store, tmp_path, "in/source video.mp4", body)
    target = tmp_path / "downloaded.mp4"

    size = store.download_file(BUCKET, "in/source video.mp4", target, max_bytes=len(body))

    assert size == len(body)
    assert target.read_bytes() == body


def test_download_file_over_max_bytes_raises_and_leaves_no_file(
    store: ObjectStore, tmp_path: Path
) -> None:
    put(store, tmp_path, "big.mp4", b"x" * 1001)
    target = tmp_path / "big.mp4"

    with pytest.raises(ObjectTooLarge):
        store.download_file(BUCKET, "big.mp4", target, max_bytes=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload.bin"]


@pytest.mark.parametrize(("bucket", "key"), [(BUCKET, "missing.mp4"), ("no-such-bucket", "a")])
def test_download_file_of_a_missing_object_raises_not_found(
    store: ObjectStore, tmp_path: Path, bucket: str, key: str
) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        store.download_file(bucket, key, tmp_path / "out", max_bytes=10)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"s3://{bucket}/{key}: NoSuch")
    assert not (tmp_path / "out").exists()


def test_presign_get_downloads_the_body(store: ObjectStore, tmp_path: Path) -> None:
    put(store, tmp_path, "out/ü 1.ts", b"segment bytes")

    response = httpx.get(store.presign_get(BUCKET, "out/ü 1.ts", expires_s=60))

    assert response.status_code == 200
    assert response.content == b"segment bytes"


def test_presign_get_uses_the_public_url() -> None:
    # Presigning is computed locally: no server needed.
    store = ObjectStore(endpoint_url="http://127.0.0.1:9000", public_url="http://cdn.example:9000")

    url = store.presign_get(BUCKET, "out/a.ts")

    assert url.startswith("http://cdn.example:9000/media/out/a.ts?")


def test_delete_prefix_deletes_only_that_prefix(store: ObjectStore, tmp_path: Path) -> None:
    for key in ["job-1/a.ts", "job-1/b/c.ts", "job-10/a.ts", "job-2/a.ts"]:
        put(store, tmp_path, key, b"x")

    assert store.delete_prefix(BUCKET, "job-1/") == 2
    assert store.delete_prefix(BUCKET, "job-1/") == 0
    with pytest.raises(ObjectNotFound):
        store.download_file(BUCKET, "job-1/a.ts", tmp_path / "out", max_bytes=10)
    assert store.download_file(BUCKET, "job-10/a.ts", tmp_path / "out", max_bytes=10) == 1


def test_delete_prefix_in_a_missing_bucket_deletes_nothing(store: ObjectStore) -> None:
    assert store.delete_prefix("no-such-bucket", "") == 0


def test_delete_all_removes_every_object_and_bucket(store: ObjectStore, tmp_path: Path) -> None:
    store.ensure_bucket("second")
    put(store, tmp_path, "a.ts", b"x")
    store.upload_file(tmp_path / "upload.bin", "second", "b/c.ts")

    store.delete_all()

    assert store.bucket_exists(BUCKET) is False
    assert store.bucket_exists("second") is False


def test_client_for_returns_one_store_per_key_pair(store: ObjectStore) -> None:
    other = store.client_for("tenant-key", "tenant-secret")

    assert store.client_for("tenant-key", "tenant-secret") is other
    assert other.client_for("emulator", "emulator") is store
    assert store.client_for(None, None) is store
    assert other.bucket_exists(BUCKET) is True


def test_errors_carry_a_one_line_message() -> None:
    error = ObjectNotFound("s3://b/k: NoSuchKey:\n  The specified key\tdoes not exist.")

    assert str(error) == "s3://b/k: NoSuchKey: The specified key does not exist."
    assert isinstance(error, ObjectStoreError)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://media/out/hls/index.m3u8", ("media", "out/hls/index.m3u8")),
        ("oss://bucket/a.mp4", ("bucket", "a.mp4")),
        ("https://example.com/a.mp4", None),
        ("s3://media", None),
        ("s3://media/", None),
    ],
)
def test_parse_object_url(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_object_url(url) == expected


def test_list_page_groups_folders_and_pages_with_a_token(
    store: ObjectStore, tmp_path: Path
) -> None:
    for key in ("a.mp4", "b.jpg", "c.txt", "hls/index.m3u8", "hls/seg-0.ts"):
        put(store, tmp_path, key, b"12345")

    # Keys and folders share one order and one MaxKeys: "hls/" sorts after "c.txt".
    first = store.list_page(BUCKET, limit=2)
    assert first.folders == []
    assert [(o.key, o.size, o.content_type) for o in first.objects] == [
        ("a.mp4", 5, "video/mp4"),
        ("b.jpg", 5, "image/jpeg"),
    ]
    assert first.next_token
    rest = store.list_page(BUCKET, limit=2, token=first.next_token)
    assert ([o.key for o in rest.objects], rest.folders, rest.next_token) == (
        ["c.txt"],
        ["hls/"],
        None,
    )
    inside = store.list_page(BUCKET, prefix="hls/")
    assert [o.key for o in inside.objects] == ["hls/index.m3u8", "hls/seg-0.ts"]
    assert inside.objects[0].modified


def test_list_buckets_and_head(store: ObjectStore, tmp_path: Path) -> None:
    put(store, tmp_path, "x.ts", b"abc")

    assert [b.name for b in store.list_buckets()] == [BUCKET]
    info = store.head(BUCKET, "x.ts")
    assert (info.key, info.size, info.content_type) == ("x.ts", 3, "video/mp2t")
    with pytest.raises(ObjectNotFound):
        store.head(BUCKET, "missing.ts")
    with pytest.raises(ObjectNotFound) as caught:
        store.list_page("no-such-bucket")
    assert caught.value.code == "NoSuchBucket"
