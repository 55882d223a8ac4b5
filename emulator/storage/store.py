"""Every S3 call the emulator makes, through boto3, with botocore errors turned into our own.

ObjectStoreError        one-line message; `code` is the S3 error code when there was one
  +-- ObjectNotFound    no such bucket or key
  +-- ObjectTooLarge    download_file went past max_bytes
"""

from __future__ import annotations

import mimetypes
import os
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
    wait_random,
)

from emulator.storage import listing

# One parser for object URLs; it lives apart so the API layer needn't import boto3.
from emulator.storage.urls import parse_object_url

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

__all__ = [
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectTooLarge",
    "guess_content_type",
    "parse_object_url",
]

_CHUNK = 1024 * 1024
# Each S3 request gets botocore's standard retries: 3 retries (4 attempts), backoff of tens of
# milliseconds, which ride out a dropped connection but not a restarting S3. An upload whose
# endpoint stays unreachable is tried again whole after these pauses (±50 % jitter), so a
# task's output survives an S3 restart of about 2 s (README, "Reliability and security").
UPLOAD_RETRY_PAUSES_S = (0.5, 1.0)
# Seconds to open a connection: a firewalled (silent) endpoint costs this per attempt.
CONNECT_TIMEOUT_S = 3
# The errors botocore itself treats as transient at the connection level.
_UNREACHABLE = (EndpointUnreachable, HTTPClientError)
# Each pause with +-50% jitter, so workers that lost the endpoint together do not return together.
UPLOAD_RETRY_WAIT = wait_chain(
    *(wait_fixed(pause / 2) + wait_random(0, pause) for pause in UPLOAD_RETRY_PAUSES_S)
)


def _unreachable(exc: BaseException) -> bool:
    return isinstance(exc, ObjectStoreError) and isinstance(exc.__cause__, _UNREACHABLE)


_NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NotFound", "404"})
_BUCKET_NOT_FOUND_CODES = frozenset({"NoSuchBucket", "NotFound", "404"})
# Players care about these; the stdlib table lacks most of them or differs between systems.
_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".flv": "video/x-flv",
    ".m4s": "video/iso.segment",
    ".mpd": "application/dash+xml",
    ".jpg": "image/jpeg",
}
# Python's built-in table only: mimetypes.guess_type() also reads /etc/mime.types, which
# varies by host (some map .ts to Qt translation files).
_BUILTIN_MIME_TYPES = mimetypes.MimeTypes()


class ObjectStoreError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        message = " ".join(message.split())  # one line, always
        super().__init__(message)
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, code={self.code!r})"


class ObjectNotFound(ObjectStoreError):
    pass


class ObjectTooLarge(ObjectStoreError):
    pass


def guess_content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = _BUILTIN_MIME_TYPES.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


class ObjectStore:
    """One S3 endpoint and key pair; boto3 clients are made once and reused (they're slow)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        public_url: str | None = None,
        region: str = "us-east-1",
        access_key: str = "emulator",
        secret_key: str = "emulator",
    ) -> None:
        self.endpoint_url = endpoint_url
        self.public_url = public_url
        self.region = region
        self._access_key = access_key
        self._secret_key = secret_key
        # A Session is not thread-safe to share while clients are being made: one per pair,
        # and clients are made under a lock, lazily: start-up waits for neither (their cost is in
        # docs/performance.md).
        self._session_lock = threading.Lock()
        # Shared by every store client_for() hands out, so each key pair gets one store.
        self._siblings: dict[tuple[str, str], ObjectStore] = {(access_key, secret_key): self}
        self._siblings_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ObjectStore(endpoint_url={self.endpoint_url!r}, public_url={self.public_url!r})"

    def client_for(self, access_key: str | None, secret_key: str | None) -> ObjectStore:
        """The same endpoint with other credentials (None keeps this store's value)."""
        pair = (access_key or self._access_key, secret_key or self._secret_key)
        with self._siblings_lock:
            store = self._siblings.get(pair)
            if store is None:
                store = ObjectStore(
                    endpoint_url=self.endpoint_url,
                    public_url=self.public_url,
                    region=self.region,
                    access_key=pair[0],
                    secret_key=pair[1],
                )
                store._siblings, store._siblings_lock = self._siblings, self._siblings_lock
                self._siblings[pair] = store
            return store

    def ping(self) -> bool:
        """True when the endpoint answers, even with an S3 error such as AccessDenied."""
        try:
            self._ping_client.list_buckets()
        except ClientError:
            return True
        except BotoCoreError:
            return False
        return True

    def bucket_exists(self, bucket: str) -> bool:
        """Raises ObjectStoreError when the answer is neither yes nor no (e.g. 403)."""
        try:
            self._client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _error_code(exc) in _BUCKET_NOT_FOUND_CODES:
                return False
            raise _convert(exc, f"s3://{bucket}") from exc
        except BotoCoreError as exc:
            raise _convert(exc, f"s3://{bucket}") from exc
        return True

    def ensure_bucket(self, bucket: str) -> bool:
        """Create the bucket if it is missing; True when this call created it."""
        if self.bucket_exists(bucket):
            return False
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as exc:
            if _error_code(exc) == "BucketAlreadyOwnedByYou":  # lost a race with ourselves
                return False
            raise _convert(exc, f"s3://{bucket}") from exc
        except BotoCoreError as exc:
            raise _convert(exc, f"s3://{bucket}") from exc
        return True

    def upload_file(
        self, path: Path, bucket: str, key: str, *, content_type: str | None = None
    ) -> None:
        """Retries the whole upload while the endpoint is unreachable (UPLOAD_RETRY_PAUSES_S)."""
        extra = {"ContentType": content_type or guess_content_type(key)}
        started = time.monotonic()
        retrying = Retrying(
            retry=retry_if_exception(_unreachable),
            wait=UPLOAD_RETRY_WAIT,
            stop=stop_after_attempt(len(UPLOAD_RETRY_PAUSES_S) + 1),
            reraise=True,
        )
        try:
            retrying(self._upload_once, path, bucket, key, extra)
        except ObjectStoreError as exc:
            if not _unreachable(exc):
                raise
            tries = retrying.statistics.get("attempt_number", 1)
            raise ObjectStoreError(
                f"{_url(bucket, key)}: S3 endpoint {self.endpoint_url} unreachable "
                f"({tries} tries in {time.monotonic() - started:.1f} s): {exc.__cause__}"
            ) from exc.__cause__

    def _upload_once(self, path: Path, bucket: str, key: str, extra: dict[str, str]) -> None:
        try:
            # s3transfer switches to a parallel multipart upload for large files.
            self._client.upload_file(str(path), bucket, key, ExtraArgs=extra)
        except S3UploadFailedError as exc:
            # boto3 wraps the ClientError in a message-only error; the code is on __context__.
            cause = exc.__context__
            raise _convert(
                cause if isinstance(cause, ClientError) else exc, _url(bucket, key)
            ) from exc
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, _url(bucket, key)) from exc

    def download_file(self, bucket: str, key: str, path: Path, *, max_bytes: int) -> int:
        """Stream the object to `path`; returns its size. Nothing is left at `path` on error."""
        try:
            response = self._client.get_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, _url(bucket, key)) from exc
        body = response["Body"]
        try:
            length = response.get("ContentLength")
            if length is not None and length > max_bytes:
                raise ObjectTooLarge(f"{_url(bucket, key)} is {length} bytes, over {max_bytes}")
            return _stream_to(body.iter_chunks(_CHUNK), Path(path), max_bytes, _url(bucket, key))
        finally:
            body.close()

    def presign_get(self, bucket: str, key: str, *, expires_s: int = 86400) -> str:
        """A GET URL for the object, on public_url when one is set (what clients can reach)."""
        try:
            return self._presign_client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
            )
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, _url(bucket, key)) from exc

    def list_buckets(self) -> list[listing.BucketInfo]:
        """Every bucket this key pair sees, by name."""
        try:
            return listing.buckets_from(self._client.list_buckets())
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, self.endpoint_url) from exc

    def list_page(
        self, bucket: str, *, prefix: str = "", limit: int = 100, token: str | None = None
    ) -> listing.ObjectPage:
        """One page of keys under prefix, grouped into "folders" at '/', at most `limit`."""
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "Delimiter": "/",
            "MaxKeys": max(1, min(limit, listing.MAX_KEYS)),
        }
        if token:
            kwargs["ContinuationToken"] = token
        try:
            response = self._client.list_objects_v2(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, _url(bucket, prefix)) from exc
        return listing.page_from(response, bucket=bucket, prefix=prefix, guess=guess_content_type)

    def head(self, bucket: str, key: str) -> listing.ObjectInfo:
        """Size, stored Content-Type and modification time of one object."""
        try:
            response = self._client.head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, _url(bucket, key)) from exc
        return listing.object_from(response, key=key, guess=guess_content_type)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under prefix; returns how many. A missing bucket holds none."""
        deleted = 0
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for page in pages:
                objects = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
                deleted += self._delete_batch(bucket, objects)
        except ClientError as exc:
            if _error_code(exc) == "NoSuchBucket":
                return deleted
            raise _convert(exc, _url(bucket, prefix)) from exc
        except BotoCoreError as exc:
            raise _convert(exc, _url(bucket, prefix)) from exc
        return deleted

    def delete_all(self) -> None:
        """Every object (and version) in every bucket, then the buckets themselves."""
        try:
            buckets = [b["Name"] for b in self._client.list_buckets().get("Buckets", [])]
            for bucket in buckets:
                self.delete_prefix(bucket, "")
                try:
                    self._client.delete_bucket(Bucket=bucket)
                except ClientError as exc:
                    if _error_code(exc) != "BucketNotEmpty":
                        raise
                    # Versioned bucket: old versions and delete markers still count.
                    self._delete_versions(bucket)
                    self._client.delete_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            raise _convert(exc, self.endpoint_url) from exc

    def _delete_versions(self, bucket: str) -> None:
        pages = self._client.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            objects = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
            self._delete_batch(bucket, objects)

    def _delete_batch(self, bucket: str, objects: list[Any]) -> int:
        # A listing page holds at most 1000 entries, DeleteObjects' limit.
        if not objects:
            return 0
        response = self._client.delete_objects(
            Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise ObjectStoreError(
                f"{_url(bucket, first.get('Key', ''))}: could not delete "
                f"{len(errors)} object(s): {first.get('Code')} {first.get('Message', '')}",
                code=first.get("Code"),
            )
        return len(objects)

    @cached_property
    def _client(self) -> S3Client:
        return self._make_client(self.endpoint_url, retries=3)

    @cached_property
    def _ping_client(self) -> S3Client:
        # No retries: a health check should say "down" quickly, not back off for seconds.
        return self._make_client(self.endpoint_url, retries=1, read_timeout=5)

    @cached_property
    def _presign_client(self) -> S3Client:
        # Presigning is local; only the host in the URL differs, so clients can reach it.
        if self.public_url is None:
            return self._client
        return self._make_client(self.public_url, retries=1)

    @cached_property
    def _session(self) -> boto3.session.Session:
        return boto3.session.Session()  # first used under _session_lock

    def _make_client(self, endpoint_url: str, *, retries: int, read_timeout: int = 60) -> S3Client:
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=read_timeout,
            retries={"max_attempts": retries, "mode": "standard"},
            # Only the checksums S3 requires: S3-compatible stores (and older moto/MinIO)
            # reject or mangle the newer default CRC trailers on uploads.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        with self._session_lock:
            return self._session.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=self.region,
                aws_access_key_id=self._access_key,
                aws_secret_access_key=self._secret_key,
                config=config,
            )


def _stream_to(chunks: Any, path: Path, max_bytes: int, label: str) -> int:
    """Write chunks to a sibling temp file, enforcing max_bytes, then rename it to path."""
    partial = path.with_name(f".{path.name}.part")
    written = 0
    try:
        with open(partial, "wb") as f:
            for chunk in chunks:
                written += len(chunk)
                if written > max_bytes:
                    raise ObjectTooLarge(f"{label} is over {max_bytes} bytes")
                f.write(chunk)
        os.replace(partial, path)
    except BotoCoreError as exc:
        raise _convert(exc, label) from exc
    finally:
        partial.unlink(missing_ok=True)
    return written


def _url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _convert(exc: BaseException, what: str) -> ObjectStoreError:
    if isinstance(exc, ClientError):
        code = _error_code(exc) or "Unknown"
        detail = exc.response.get("Error", {}).get("Message") or exc.operation_name
        cls = ObjectNotFound if code in _NOT_FOUND_CODES else ObjectStoreError
        return cls(f"{what}: {code}: {detail}", code=code)
    return ObjectStoreError(f"{what}: {exc}")
