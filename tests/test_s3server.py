"""The embedded S3 server: real moto over HTTP, mirrored to disk across restarts and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.storage.embedded import EmbeddedS3

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

BUCKET = "media"
MiB = 1024 * 1024
# Keys that break naive file naming: spaces, unicode, slashes, `..`, URL metacharacters.
AWKWARD_KEYS = [
    "plain.txt",
    "with space/and more.ts",
    "unicode/ü日本/índex.m3u8",
    "deep/a/b/c/../d.bin",
    "odd%2Fchars+&=?#;.txt",
    "x" * 300,
]
# A tiny server process: `kill -9` must hit a real process, not a thread of the test's.
SERVE_SCRIPT = """
import sys, threading
from pathlib import Path
from emulator.storage.embedded import EmbeddedS3
s3 = EmbeddedS3(port=0, data_dir=Path(sys.argv[1]))
s3.start()
print(s3.endpoint_url, flush=True)
threading.Event().wait()
"""


def s3_client(endpoint_url: str, access_key: str = "emulator") -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="any-secret",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[EmbeddedS3]:
    s3 = EmbeddedS3(port=0, data_dir=data_dir)
    s3.start()
    try:
        yield s3
    finally:
        s3.stop()


@pytest.fixture
def s3(server: EmbeddedS3) -> S3Client:
    client = s3_client(server.endpoint_url)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def restart(server: EmbeddedS3, data_dir: Path) -> Iterator[Callable[[], S3Client]]:
    """Stop the server, start a new one on the same data dir, return a client of the new one."""
    started: list[EmbeddedS3] = []

    def restart() -> S3Client:
        server.stop()
        fresh = EmbeddedS3(port=0, data_dir=data_dir)
        fresh.start()
        started.append(fresh)
        return s3_client(fresh.endpoint_url)

    yield restart
    for fresh in started:
        fresh.stop()


@contextmanager
def server_process(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        endpoint_url = proc.stdout.readline().strip()
        assert endpoint_url.startswith("http://"), "the server process did not start"
        yield proc, endpoint_url
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def read(client: S3Client, key: str, bucket: str = BUCKET) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(client: S3Client, bucket: str = BUCKET) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_put_then_get_returns_the_body(s3: S3Client) -> None:
    s3.put_object(Bucket=BUCKET, Key="a/b.txt", Body=b"hello")

    assert read(s3, "a/b.txt") == b"hello"


def test_presigned_url_serves_the_body(s3: S3Client) -> None:
    s3.put_object(Bucket=BUCKET, Key="clip 1.mp4", Body=b"\x00mp4 bytes")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "clip 1.mp4"})

    response = httpx.get(url)

    assert response.status_code == 200
    assert response.content == b"\x00mp4 bytes"


def test_any_credentials_are_accepted(server: EmbeddedS3) -> None:
    client = s3_client(server.endpoint_url, access_key="whoever")

    client.create_bucket(Bucket="someone-elses")

    assert "someone-elses" in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_start_on_an_empty_store_is_fast(tmp_path: Path) -> None:
    s3 = EmbeddedS3(port=0, data_dir=tmp_path)
    began = time.perf_counter()
    s3.start()
    try:
        elapsed = time.perf_counter() - began
        assert httpx.get(s3.endpoint_url).status_code == 200
    finally:
        s3.stop()

    assert elapsed < 0.5


def test_objects_survive_restart_with_type_and_metadata(
    s3: S3Client, restart: Callable[[], S3Client]
) -> None:
    for i, key in enumerate(AWKWARD_KEYS):
        s3.put_object(
            Bucket=BUCKET,
            Key=key,
            Body=f"body {i}".encode(),
            ContentType="video/mp2t",
            Metadata={"task-id": str(i), "with_underscore": "kept"},
        )
    before = {key: s3.head_object(Bucket=BUCKET, Key=key) for key in AWKWARD_KEYS}

    s3 = restart()

    assert sorted(keys(s3)) == sorted(AWKWARD_KEYS)
    for i, key in enumerate(AWKWARD_KEYS):
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert read(s3, key) == f"body {i}".encode()
        assert head["ContentType"] == "video/mp2t"
        assert head["Metadata"] == {"task-id": str(i), "with_underscore": "kept"}
        assert head["ETag"] == before[key]["ETag"]
        assert head["LastModified"] == before[key]["LastModified"]


def test_overwritten_object_survives_restart_as_the_last_write(
    s3: S3Client, restart: Callable[[], S3Client]
) -> None:
    s3.put_object(Bucket=BUCKET, Key="out.m3u8", Body=b"first")
    s3.put_object(Bucket=BUCKET, Key="out.m3u8", Body=b"second")

    s3 = restart()

    assert read(s3, "out.m3u8") == b"second"


def test_multipart_upload_survives_restart(s3: S3Client, restart: Callable[[], S3Client]) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(MiB // 2)]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="big.mp4")
    etags = [
        s3.upload_part(
            Bucket=BUCKET, Key="big.mp4", UploadId=upload["UploadId"], PartNumber=n, Body=part
        )["ETag"]
        for n, part in enumerate(parts, start=1)
    ]
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="big.mp4",
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, start=1)]
        },
    )

    s3 = restart()

    assert read(s3, "big.mp4") == b"".join(parts)
    assert s3.head_object(Bucket=BUCKET, Key="big.mp4")["ETag"] == done["ETag"]
    assert done["ETag"].endswith('-2"')


def test_copied_object_survives_restart(s3: S3Client, restart: Callable[[], S3Client]) -> None:
    s3.put_object(Bucket=BUCKET, Key="src.ts", Body=b"segment", ContentType="video/mp2t")
    s3.create_bucket(Bucket="archive")
    s3.copy_object(Bucket="archive", Key="copy.ts", CopySource={"Bucket": BUCKET, "Key": "src.ts"})

    s3 = restart()

    assert read(s3, "copy.ts", bucket="archive") == b"segment"
    assert s3.head_object(Bucket="archive", Key="copy.ts")["ContentType"] == "video/mp2t"


def test_deleted_objects_stay_deleted_after_restart(
    s3: S3Client, restart: Callable[[], S3Client]
) -> None:
    for key in ["keep.ts", "gone-1.ts", "gone 2/ü.ts", "gone-3.ts"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="gone-1.ts")
    s3.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "gone 2/ü.ts"}, {"Key": "gone-3.ts"}]}
    )

    s3 = restart()

    assert keys(s3) == ["keep.ts"]


def test_deleted_bucket_stays_deleted_after_restart(
    s3: S3Client, restart: Callable[[], S3Client]
) -> None:
    s3.create_bucket(Bucket="scratch")
    s3.put_object(Bucket="scratch", Key="tmp.bin", Body=b"x")
    s3.delete_object(Bucket="scratch", Key="tmp.bin")
    s3.delete_bucket(Bucket="scratch")

    s3 = restart()

    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [BUCKET]


def test_concurrent_writes_all_survive_restart(
    s3: S3Client, restart: Callable[[], S3Client]
) -> None:
    def write(i: int) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"seg/{i:03}.ts", Body=f"segment {i}".encode())
        s3.put_object(Bucket=BUCKET, Key="index.m3u8", Body=f"up to {i}".encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(40)))
    last_index = read(s3, "index.m3u8")

    s3 = restart()

    assert keys(s3) == ["index.m3u8", *(f"seg/{i:03}.ts" for i in range(40))]
    assert read(s3, "seg/017.ts") == b"segment 17"
    assert read(s3, "index.m3u8") == last_index


def test_restart_ignores_leftovers_of_an_interrupted_write(
    s3: S3Client, restart: Callable[[], S3Client], data_dir: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key="ok.ts", Body=b"ok")
    (data_dir / "s3" / BUCKET / ".tmp-half-written").write_bytes(b"garbage")
    (data_dir / "s3" / ".new-half-made-bucket").mkdir()

    s3 = restart()

    assert keys(s3) == ["ok.ts"]
    assert sorted(p.name for p in (data_dir / "s3").iterdir()) == [BUCKET]


def test_acknowledged_put_survives_kill_9(data_dir: Path) -> None:
    body = os.urandom(300_000)
    with server_process(data_dir) as (proc, endpoint_url):
        client = s3_client(endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="out/seg 0.ts", Body=body)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL

    with server_process(data_dir) as (_, endpoint_url):
        assert read(s3_client(endpoint_url), "out/seg 0.ts") == body


def test_reset_empties_memory_and_disk(server: EmbeddedS3, s3: S3Client, data_dir: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="a.ts", Body=b"x")

    server.reset()

    assert s3.list_buckets()["Buckets"] == []
    assert list((data_dir / "s3").iterdir()) == []
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=BUCKET)
