"""The embedded S3 serves persisted bodies from their object files (docs/storage.md).

Every size survives `kill -9` with its bytes and ETag, ranged reads and overwrites work on
bodies restored from disk, no second copy is kept in temporary files, and start-up reads
object headers only.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.storage.embedded import EmbeddedS3
from emulator.storage.objectfiles import BodyFile, bucket_dirname, key_filename

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

BUCKET = "media"
MiB = 1024 * 1024
SERVE_SCRIPT = """
import sys, threading
from pathlib import Path
from emulator.storage.embedded import EmbeddedS3
s3 = EmbeddedS3(port=0, data_dir=Path(sys.argv[1]))
s3.start()
print(s3.endpoint_url, flush=True)
threading.Event().wait()
"""


def s3_client(endpoint_url: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="emulator",
        aws_secret_access_key="any-secret",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@contextmanager
def server_process(data_dir: Path, tmp_dir: Path) -> Iterator[tuple[int, S3Client]]:
    """A process running only the embedded S3, its temporary files in `tmp_dir`."""
    tmp_dir.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        endpoint_url = proc.stdout.readline().strip()
        assert endpoint_url.startswith("http://"), "the server process did not start"
        yield proc.pid, s3_client(endpoint_url)
    finally:
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        if proc.stdout is not None:
            proc.stdout.close()


def body_of(size: int, seed: int) -> bytes:
    # Distinct at every offset, so a range from the wrong place or object cannot pass.
    block = hashlib.sha256(f"{seed}".encode()).digest() * (1 + size // 32)
    counter = b"".join(i.to_bytes(4, "big") for i in range(size // 4 + 1))
    return bytes(a ^ b for a, b in zip(block[:size], counter[:size], strict=True))


def put_multipart(client: S3Client, key: str, body: bytes, part: int = 5 * MiB) -> None:
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(body), part), start=1):
        etag = client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number,
            Body=body[start : start + part],
        )["ETag"]  # fmt: skip
        parts.append({"ETag": etag, "PartNumber": number})
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )


def ranged(client: S3Client, key: str, spec: str) -> bytes:
    response = client.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={spec}")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    return response["Body"].read()


def deleted_files_open(pid: int) -> list[str]:
    """Files the process holds open that have no name any more (moto's spilled buffers)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    targets = []
    for fd in fd_dir.iterdir():
        if int(fd.name) <= 2:
            continue  # stdio: under pytest, stderr is its capture file, deleted too
        try:
            targets.append(os.readlink(fd))
        except FileNotFoundError:
            continue  # closed meanwhile
    return [t for t in targets if t.endswith("(deleted)")]


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "s3").rglob("*") if p.is_file()]


SIZES = {"empty.bin": 0, "one-kb.txt": 1024, "twenty-mb.mp4": 20 * MiB}
MULTIPART = ("six-mb-multipart.mp4", 6 * MiB + 12345)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_every_size_survives_kill_9_and_is_served_from_its_file(tmp_path: Path) -> None:
    data_dir, tmp_dir = tmp_path / "data", tmp_path / "tmp"
    bodies = {key: body_of(size, i) for i, (key, size) in enumerate(SIZES.items())}
    bodies[MULTIPART[0]] = body_of(MULTIPART[1], 9)
    with server_process(data_dir, tmp_dir) as (pid, client):
        client.create_bucket(Bucket=BUCKET)
        for key, body in bodies.items():
            if key == MULTIPART[0]:
                put_multipart(client, key, body)
            else:
                client.put_object(Bucket=BUCKET, Key=key, Body=body)
        etags = {key: client.head_object(Bucket=BUCKET, Key=key)["ETag"] for key in bodies}
        assert etags[MULTIPART[0]].endswith('-2"')
        # Persisted bodies and completed parts are not kept a second time in temp files.
        assert deleted_files_open(pid) == []
        assert list(tmp_dir.iterdir()) == []

    with server_process(data_dir, tmp_dir) as (pid, client):
        for key, body in bodies.items():
            got = client.get_object(Bucket=BUCKET, Key=key)
            assert got["ETag"] == etags[key], key
            assert got["ContentLength"] == len(body), key
            assert got["Body"].read() == body, key
        for key in ("twenty-mb.mp4", MULTIPART[0]):
            body = bodies[key]
            assert ranged(client, key, "0-99") == body[:100]
            middle = len(body) // 2
            assert ranged(client, key, f"{middle}-{middle + 999}") == body[middle : middle + 1000]
            assert ranged(client, key, "-500") == body[-500:]
            assert ranged(client, key, f"{len(body) - 10}-") == body[-10:]
        assert ranged(client, "one-kb.txt", "1000-5000") == bodies["one-kb.txt"][1000:]

        # Overwrite, delete and copy bodies that came back from disk.
        new_body = body_of(3 * MiB, 42)
        client.put_object(Bucket=BUCKET, Key="twenty-mb.mp4", Body=new_body)
        client.delete_object(Bucket=BUCKET, Key="one-kb.txt")
        client.copy_object(
            Bucket=BUCKET, Key="copy.mp4", CopySource={"Bucket": BUCKET, "Key": MULTIPART[0]}
        )
        assert deleted_files_open(pid) == []

    bodies["twenty-mb.mp4"] = new_body
    bodies["copy.mp4"] = bodies[MULTIPART[0]]
    del bodies["one-kb.txt"]
    with server_process(data_dir, tmp_dir) as (_, client):
        listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert {o["Key"]: o["Size"] for o in listed} == {k: len(b) for k, b in bodies.items()}
        for key, body in bodies.items():
            assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body, key
        with pytest.raises(ClientError):
            client.head_object(Bucket=BUCKET, Key="one-kb.txt")
    # One file per object plus the bucket's: nothing left by the overwrite or the delete.
    assert len(stored_files(data_dir)) == len(bodies) + 1
    on_disk = sum(p.stat().st_size for p in stored_files(data_dir))
    stored = sum(len(b) for b in bodies.values())
    assert stored <= on_disk < stored + 4096


@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="needs /proc/self/io")
def test_start_reads_headers_not_bodies(tmp_path: Path) -> None:
    body = body_of(20 * MiB, 7)
    first = EmbeddedS3(port=0, data_dir=tmp_path)
    first.start()
    try:
        client = s3_client(first.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="big.mp4", Body=body)
    finally:
        first.stop()

    # rchar counts every byte this process read through read(): a count, not a time.
    before = read_chars()
    second = EmbeddedS3(port=0, data_dir=tmp_path)
    second.start()
    try:
        assert read_chars() - before < 2 * MiB
        client = s3_client(second.endpoint_url)
        assert client.get_object(Bucket=BUCKET, Key="big.mp4")["Body"].read() == body
    finally:
        second.stop()


def read_chars() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_reads_during_overwrites_get_one_whole_version(tmp_path: Path) -> None:
    versions = [body_of(2 * MiB, seed) for seed in range(3)]
    server = EmbeddedS3(port=0, data_dir=tmp_path)
    server.start()
    try:
        client = s3_client(server.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="seg.ts", Body=versions[0])

        def write(_: int) -> None:
            # One writer, as a task rewriting its playlist: moto itself fails concurrent
            # PUTs of one key (each disposes the other's body before its reply is built).
            for i in range(30):
                client.put_object(Bucket=BUCKET, Key="seg.ts", Body=versions[i % 3])

        def read(_: int) -> bytes:
            return client.get_object(Bucket=BUCKET, Key="seg.ts")["Body"].read()

        with ThreadPoolExecutor(6) as pool:
            writes = pool.map(write, range(1))
            reads = list(pool.map(read, range(60)))
            list(writes)
        assert all(body in versions for body in reads)
        last = client.get_object(Bucket=BUCKET, Key="seg.ts")["Body"].read()
        assert last in versions
    finally:
        server.stop()
    assert len(stored_files(tmp_path)) == 2  # the bucket's file and the object's
    restarted = EmbeddedS3(port=0, data_dir=tmp_path)
    restarted.start()
    try:
        got = s3_client(restarted.endpoint_url).get_object(Bucket=BUCKET, Key="seg.ts")
        assert got["Body"].read() == last
    finally:
        restarted.stop()


def test_body_file_reads_its_range_until_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "object"
    path.write_bytes(b'{"header": 1}\n' + b"0123456789")
    body = BodyFile.of(path, len(b'{"header": 1}\n'), path.stat())
    assert body.size == 10
    assert body.read(3) == b"012"
    assert body.read() == b"3456789"
    assert body.read() == b""
    body.seek(-2, os.SEEK_END)
    assert (body.tell(), body.read()) == (8, b"89")

    replacement = tmp_path / "replacement"
    replacement.write_bytes(b'{"header": 1}\n' + b"abcdefghij")
    os.replace(replacement, path)
    body.seek(0)
    with pytest.raises(ValueError, match="replaced"):
        body.read()
    path.unlink()
    with pytest.raises(ValueError, match="removed"):
        body.read()
    body.close()
    with pytest.raises(ValueError, match="closed"):
        body.seek(0)


def answers(client: S3Client, key: str) -> dict[str, object]:
    """What S3 says of an object, without the parts that differ per request."""
    head = client.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    attributes = client.get_object_attributes(
        Bucket=BUCKET, Key=key, ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"]
    )
    acl = client.get_object_acl(Bucket=BUCKET, Key=key)
    return {
        name: {k: v for k, v in answer.items() if k != "ResponseMetadata"}
        for name, answer in (("head", head), ("attributes", attributes), ("acl", acl))
    }


def test_restored_keys_answer_like_the_keys_they_were(tmp_path: Path) -> None:
    # A restored key is rebuilt leaner than moto builds one (docs/storage.md, Start-up): every
    # request must still see what it saw before the restart.
    body = body_of(4096, 3)
    first = EmbeddedS3(port=0, data_dir=tmp_path)
    first.start()
    try:
        client = s3_client(first.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(
            Bucket=BUCKET, Key="a.m3u8", Body=body, ContentType="application/vnd.apple.mpegurl",
            Metadata={"task-id": "t-1"}, ChecksumAlgorithm="SHA256",
        )  # fmt: skip
        client.put_object(Bucket=BUCKET, Key="b.ts", Body=body)
        # S3 allows 2 KB of user metadata: a header line longer than start-up's first read.
        many = {f"note-{i:02d}": "x" * 60 for i in range(24)}
        client.put_object(Bucket=BUCKET, Key="c.mp4", Body=body, Metadata=many)
        before = {key: answers(client, key) for key in ("a.m3u8", "b.ts", "c.mp4")}
    finally:
        first.stop()

    second = EmbeddedS3(port=0, data_dir=tmp_path)
    second.start()
    try:
        client = s3_client(second.endpoint_url)
        assert {key: answers(client, key) for key in before} == before
        versions = client.list_object_versions(Bucket=BUCKET)["Versions"]
        assert sorted(v["Key"] for v in versions) == ["a.m3u8", "b.ts", "c.mp4"]
        assert client.head_object(Bucket=BUCKET, Key="c.mp4")["Metadata"] == many
        assert {v["VersionId"] for v in versions} == {"null"}

        # Requests that change a restored key, and the ones that copy and delete it.
        client.put_object_acl(Bucket=BUCKET, Key="b.ts", ACL="public-read")
        grants = client.get_object_acl(Bucket=BUCKET, Key="b.ts")["Grants"]
        assert any(g["Permission"] == "READ" and "URI" in g["Grantee"] for g in grants)
        # The other key keeps the default ACL that restored keys share.
        assert answers(client, "a.m3u8")["acl"] == before["a.m3u8"]["acl"]
        client.copy_object(
            Bucket=BUCKET, Key="copy.m3u8", CopySource={"Bucket": BUCKET, "Key": "a.m3u8"}
        )
        copied = client.head_object(Bucket=BUCKET, Key="copy.m3u8")
        assert copied["Metadata"] == {"task-id": "t-1"}
        assert copied["ContentType"] == "application/vnd.apple.mpegurl"
        client.delete_object(Bucket=BUCKET, Key="a.m3u8")
        with pytest.raises(ClientError):
            client.head_object(Bucket=BUCKET, Key="a.m3u8")
        assert client.get_object(Bucket=BUCKET, Key="copy.m3u8")["Body"].read() == body
    finally:
        second.stop()


def test_start_skips_object_files_it_cannot_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = EmbeddedS3(port=0, data_dir=tmp_path)
    first.start()
    try:
        client = s3_client(first.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="good.mp4", Body=b"good")
        client.put_object(Bucket=BUCKET, Key="short.mp4", Body=b"0123456789")
    finally:
        first.stop()
    bucket_dir = tmp_path / "s3" / bucket_dirname(BUCKET)
    (bucket_dir / key_filename("no-header.mp4")).write_bytes(b"x" * 5000)  # no header line
    short = bucket_dir / key_filename("short.mp4")
    short.write_bytes(short.read_bytes()[:-3])  # a body shorter than its header says

    second = EmbeddedS3(port=0, data_dir=tmp_path)
    with caplog.at_level("ERROR", logger="emulator.storage.embedded"):
        second.start()
    try:
        client = s3_client(second.endpoint_url)
        listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]
        assert [o["Key"] for o in listed] == ["good.mp4"]
        assert client.get_object(Bucket=BUCKET, Key="good.mp4")["Body"].read() == b"good"
    finally:
        second.stop()
    skipped = " ".join(r.getMessage() for r in caplog.records)
    assert "no header line" in skipped and "header says 10" in skipped


def test_restored_keys_are_live_moto_keys(tmp_path: Path) -> None:
    # The adapter builds restored keys itself (storage/moto_s3.py, _KeyRestorer): each must
    # be what moto's put_object leaves, a key that is neither disposed nor untracked.
    from moto.s3.models import FakeKey

    from emulator.storage.moto_s3 import DiskMirror, _live_bucket

    first = EmbeddedS3(port=0, data_dir=tmp_path)
    first.start()
    try:
        client = s3_client(first.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        for name in ("a.ts", "b.ts"):
            client.put_object(Bucket=BUCKET, Key=name, Body=name.encode())
    finally:
        first.stop()
    DiskMirror(tmp_path / "s3").restore()
    bucket = _live_bucket(BUCKET)
    assert bucket is not None
    keys = [bucket.keys[name] for name in ("a.ts", "b.ts")]
    assert [key.disposed for key in keys] == [False, False]
    assert all(key in FakeKey.instances_tracked for key in keys)  # type: ignore[attr-defined]
    assert keys[0].lock is not keys[1].lock and keys[0]._metadata is not keys[1]._metadata
    assert keys[0].value == b"a.ts"
