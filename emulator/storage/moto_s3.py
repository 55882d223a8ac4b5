"""The one adapter over moto's internals: its S3 app, and the disk mirror of its state.

moto has no persistence API, so this module is the only one that touches its internals
(moto is pinned to the tested minor version in pyproject.toml); emulator/storage/embedded.py
serves what it builds. Each internal it uses:

    moto.moto_server.werkzeug_app   create_backend_app("s3"), MotoRequestHandler: the server
    moto.core.request.Request       parses a request the way moto does (which bucket and key)
    moto.s3.responses.S3Response    subdomain_based_buckets(): path- or virtual-host style
    moto.s3.utils / moto.s3bucket_path.utils   bucket_name_from_url, parse_key_name
    moto.s3.models.s3_backends      the process-global backends: bucket_accounts, [account]
                                    [partition].buckets, reset()
    moto.s3.models.S3Backend        create_bucket(), .account_id, .region_name
    moto.s3.models.FakeBucket       .keys (the live objects of a bucket) and its setlist(),
                                    which is how put_object stores a key; .is_versioned
    moto.s3.models.FakeKey          .name, .etag, .size, .metadata, .last_modified,
                                    .storage_class, .checksum_algorithm, .checksum_type,
                                    .checksum_value, .disposed, .lock (the lock moto's .value
                                    takes), ._value_buffer (the body's file: read when
                                    persisting, then replaced by a BodyFile onto the object
                                    file), .contentsize (what .size returns), .multipart,
                                    dispose(), and the class's instances_tracked list (emptied
                                    on reset, its disposed keys dropped as it grows).
                                    Restoring builds one key per bucket with FakeKey(...) and
                                    the rest with FakeKey.__new__ and an instance __dict__:
                                    that key's attributes, the object's own attributes (the
                                    stored attributes named in _OWN_ATTRIBUTES: _etag,
                                    _metadata, _storage_class ...), and none of those in
                                    _KEY_DEFAULTS, which are set on the class as fallbacks
                                    (FakeKey.__init__ sets each on every instance, so no key
                                    moto builds reads them)
    moto.utilities.utils.LowercaseDict  a key's metadata mapping
    moto.s3.models.FakeMultipart    .dispose() and .parts of a completed upload (emptied once
                                    the object is persisted), its instances_tracked list,
                                    emptied on reset
    moto.s3.models.FakeAcl, FakeGrant, FakeGrantee, get_canned_acl   one shared default ACL
                                    for restored keys; their instances_tracked lists emptied

Everything else in the emulator reaches S3 through boto3 (storage/store.py).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from wsgiref.types import WSGIApplication, WSGIEnvironment

from moto.core.request import Request as MotoRequest
from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from moto.s3.models import (
    FakeAcl,
    FakeBucket,
    FakeGrant,
    FakeGrantee,
    FakeKey,
    FakeMultipart,
    S3Backend,
    get_canned_acl,
    s3_backends,
)
from moto.s3.responses import S3Response
from moto.s3.utils import bucket_name_from_url as vhost_bucket_name
from moto.s3bucket_path.utils import bucket_name_from_url as path_bucket_name
from moto.s3bucket_path.utils import parse_key_name as path_key_name
from moto.utilities.utils import LowercaseDict

from emulator.storage.objectfiles import CHUNK, BodyFile, read_header
from emulator.storage.objectfiles import bucket_dirname as _bucket_dirname
from emulator.storage.objectfiles import fsync_dir as _fsync_dir
from emulator.storage.objectfiles import key_filename as _key_filename
from emulator.storage.objectfiles import write_atomically as _write_atomically

# Logged as the embedded S3, which is what a user sees.
log = logging.getLogger("emulator.storage.embedded")

# The request handler werkzeug should use: moto's keeps S3's header casing and chunked bodies.
RequestHandler = MotoRequestHandler
BUCKET_FILE = ".bucket.json"
_SYNC_ATTEMPTS = 3
# moto tracks every FakeKey it ever made, disposed or not; past this many the disposed ones
# (overwritten or deleted objects) are let go, so a long run's overwrites do not pile up.
_TRACKED_KEYS_MIN = 4096

# What FakeKey.__init__ sets on every key and a restored one keeps unchanged unless a request
# changes it (versioning, object lock, encryption, a Glacier restore; none is persisted). A
# key's instance dict has 35 attributes, more than CPython's shared-key dicts hold, so each
# key pays for a full table; without these it fits a table a third that size. moto's writes
# (dispose(), put_object_acl, the restore state machine) still set instance attributes, and
# the one mutable value, the transitions list, is only ever read.
_KEY_DEFAULTS: dict[str, Any] = {
    "_transitions": [(None, "IN_PROGRESS"), ("IN_PROGRESS", "RESTORED")],
    "_status": None,
    "_tick": 0,
    "model_name": "s3::keyrestore",
    "website_redirect_location": None,
    "_expiry": None,
    "_is_versioned": False,
    "multipart": None,
    "disposed": False,
    "encryption": None,
    "kms_key_id": None,
    "bucket_key_enabled": None,
    "lock_mode": None,
    "lock_legal_status": None,
    "lock_until": None,
    "checksum_parts": None,
}
for _name, _default in _KEY_DEFAULTS.items():
    # A class attribute of that name would be moto's own: shadowing it would change moto.
    if _name in vars(FakeKey):
        raise RuntimeError(f"moto's FakeKey defines {_name}: recheck _KEY_DEFAULTS")
    setattr(FakeKey, _name, _default)


def s3_app() -> WSGIApplication:
    """moto's S3 as a WSGI app over the process-global backends."""
    app: WSGIApplication = create_backend_app("s3")
    return app


def request_target(environ: WSGIEnvironment) -> tuple[str, str] | None:
    """(bucket, key) the request addresses, parsed exactly as moto parses it; key "" = bucket."""
    request = MotoRequest(environ, shallow=True)
    url = request.raw_url
    # Virtual-host style puts the bucket in the Host header (S3Response.parse_bucket_name_from_url).
    if S3Response.subdomain_based_buckets(request):
        bucket = vhost_bucket_name(url)
        if bucket:
            return bucket, unquote(request.raw_path)[1:]
    bucket = path_bucket_name(url)
    if not bucket:
        return None
    return bucket, path_key_name(unquote(request.raw_path))


class _Superseded(Exception):
    """The key being copied to disk changed meanwhile: disposed by a newer write, or its
    buffer read (and its position moved) by moto without the key's lock; copy it again."""


class DiskMirror:
    """`root` mirrors moto's buckets: one directory per bucket, one file per object.

    An object file is one JSON header line followed by the body, so each object is replaced
    by a single atomic rename; a bucket directory appears and disappears by rename as well.
    Leftovers of an interrupted write are dot-files, removed by restore().
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        # One lock for every disk change: syncs read moto's current state and write it, so
        # serialising them means the last sync to run always leaves the newest state on disk.
        self.lock = threading.Lock()
        # bucket -> key -> the FakeKey its file holds. moto builds a new FakeKey for every
        # PUT, copy and completed upload, so identity says whether a file is current.
        self._written: dict[str, dict[str, FakeKey]] = {}
        self._prune_at = _TRACKED_KEYS_MIN

    def restore(self) -> None:
        """Make moto's S3 state exactly what is on disk."""
        with self.lock:
            _reset_moto_s3()
            self._written.clear()
            self.root.mkdir(parents=True, exist_ok=True)
            with _collector_paused():
                for entry in sorted(self.root.iterdir()):
                    if entry.name.startswith("."):
                        shutil.rmtree(entry)  # a bucket create or delete cut short
                    elif entry.is_dir():
                        self._restore_bucket(entry)
            _forget_acls()

    def clear(self) -> None:
        with self.lock:
            _reset_moto_s3()
            self._written.clear()
            if self.root.is_dir():
                for entry in list(self.root.iterdir()):
                    self._remove_dir(entry)

    def sync(self, bucket_name: str, key_name: str, *, reconcile: bool) -> None:
        """Write what moto now holds for this bucket (and key) to disk.

        `reconcile` re-checks every key of the bucket: DeleteObjects and POST-form uploads
        name their keys in the body, not the URL.
        """
        with self.lock:
            bucket = _live_bucket(bucket_name)
            if bucket is None:
                if self._written.pop(bucket_name, None) is not None:
                    self._remove_dir(self.root / _bucket_dirname(bucket_name))
                return
            written = self._ensure_bucket_dir(bucket)
            if key_name:
                self._sync_key(bucket, written, key_name)
            elif reconcile:
                for name in set(written) | set(bucket.keys):
                    self._sync_key(bucket, written, name)
            self._forget_disposed_keys()

    def _forget_disposed_keys(self) -> None:
        # The list is only read by moto's reset(), to dispose keys; these already are. A key
        # made by another request while the list is rebuilt may drop out of it: it is still
        # disposed by reset() through its bucket, or when it is garbage-collected.
        tracked = FakeKey.instances_tracked  # type: ignore[attr-defined]
        if len(tracked) < self._prune_at:
            return
        tracked[:] = [key for key in tracked if not key.disposed]
        self._prune_at = max(_TRACKED_KEYS_MIN, 2 * len(tracked))
        _forget_acls()

    def _ensure_bucket_dir(self, bucket: FakeBucket) -> dict[str, FakeKey]:
        written = self._written.get(bucket.name)
        if written is not None:
            return written
        info = {
            "name": bucket.name,
            "account_id": bucket.account_id,
            "partition": bucket.partition,
            "region": bucket.region_name,
        }
        final = self.root / _bucket_dirname(bucket.name)
        # An untracked directory is one restore() could not read: memory is the truth now.
        self._remove_dir(final)
        staging = self.root / f".new-{uuid.uuid4().hex}"
        staging.mkdir()
        _write_atomically(staging / BUCKET_FILE, [json.dumps(info).encode()])
        os.replace(staging, final)
        _fsync_dir(self.root)
        written = self._written[bucket.name] = {}
        return written

    def _remove_dir(self, path: Path) -> None:
        if not path.exists():
            return
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        os.replace(path, trash)
        _fsync_dir(self.root)
        shutil.rmtree(trash)

    def _sync_key(self, bucket: FakeBucket, written: dict[str, FakeKey], name: str) -> None:
        path = self.root / _bucket_dirname(bucket.name) / _key_filename(name)
        for _ in range(_SYNC_ATTEMPTS):
            current = _live_key(bucket, name)
            if current is None:
                written.pop(name, None)
                try:
                    path.unlink()
                except FileNotFoundError:
                    return  # e.g. UploadPart: no object yet
                _fsync_dir(path.parent)
                return
            if written.get(name) is current:
                return
            try:
                body = _persist(path, current)
            except _Superseded:
                continue
            _serve_from_file(current, body)
            written[name] = current
            return
        log.warning("embedded S3: %s/%s kept changing while being persisted", bucket.name, name)

    def _restore_bucket(self, directory: Path) -> None:
        try:
            info = json.loads((directory / BUCKET_FILE).read_text("utf-8"))
            backend: S3Backend = s3_backends[info["account_id"]][info["partition"]]
            bucket = backend.create_bucket(info["name"], info["region"])
        except (OSError, ValueError, KeyError) as exc:
            log.error("embedded S3: skipping unreadable bucket directory %s: %s", directory, exc)
            return
        written = self._written[bucket.name] = {}
        restorer = _KeyRestorer(backend, bucket)
        # Plain strings, not Paths: each restored key keeps its file's path.
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name == BUCKET_FILE:
                    continue
                if entry.name.startswith("."):
                    os.unlink(entry.path)  # a temp file from a write cut short
                    continue
                key = restorer.restore(entry.path)
                if key is not None:
                    written[key.name] = key


# What differs from one restored key to the next; the rest of a key's attributes are the
# same for every key of a bucket (or, in _KEY_DEFAULTS, for every key at all).
_OWN_ATTRIBUTES = frozenset(
    {
        "name", "last_modified", "acl", "checksum_algorithm", "_storage_class", "_metadata",
        "_etag", "_value_buffer", "contentsize", "lock", "checksum_value", "checksum_type",
    }
)  # fmt: skip


class _KeyRestorer:
    """Registers a bucket's object files with moto as keys, reading only each header line.

    moto builds one key the way put_object does; each restored key is a copy of that key's
    attributes with the object's own set over them, in a dict without _KEY_DEFAULTS (a third
    the size of moto's). Building every key through put_object (a state machine, an ACL, a
    spooled buffer made and closed again, per key) was a third of start-up with 10,000 keys.
    Nothing is copied that a request could change in place: the shared values are strings,
    numbers, a datetime and the transitions list moto only reads.
    """

    def __init__(self, backend: S3Backend, bucket: FakeBucket) -> None:
        self.bucket = bucket
        model = FakeKey(
            name="",
            value=b"",
            account_id=backend.account_id,
            region_name=backend.region_name,
            is_versioned=bucket.is_versioned,
            version_id="null",
            bucket_name=bucket.name,
        )
        self.shared = {
            name: value
            for name, value in vars(model).items()
            if name not in _OWN_ATTRIBUTES
            and (name not in _KEY_DEFAULTS or value != _KEY_DEFAULTS[name])
        }
        # Only now: dispose() marks the model disposed, which no restored key is.
        model.dispose()  # closes its buffer; it is not stored
        # ACLs are not persisted, so every restored key has moto's default: share one.
        self.acl = get_canned_acl("private")

    def restore(self, path: str) -> FakeKey | None:
        try:
            header, body = read_header(path)
            # Thousands of keys repeat the same few names and values: one copy of each.
            metadata = LowercaseDict(
                {sys.intern(k): _shared(v) for k, v in header["metadata"].items()}
            )
            own = {
                "name": header["key"],
                "last_modified": datetime.fromisoformat(header["last_modified"]),
                "acl": self.acl,
                "checksum_algorithm": _shared(header["checksum_algorithm"]),
                "_storage_class": _shared(header["storage_class"]),
                "_metadata": metadata,
                "_etag": header["etag"],
                "_value_buffer": body,
                "contentsize": body.size,
                "lock": threading.Lock(),
                "checksum_value": header["checksum_value"],
                "checksum_type": _shared(header["checksum_type"]),
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("embedded S3: skipping unreadable object file %s: %s", path, exc)
            return None
        # Through BaseModel.__new__, so moto tracks the key as it tracks every key it makes.
        key: FakeKey = FakeKey.__new__(FakeKey)  # type: ignore[assignment]
        key.__dict__ = {**self.shared, **own}
        self.bucket.keys.setlist(key.name, [key])
        return key


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Restoring makes several objects per key and frees none in cycles, so the cyclic
    # collector's passes over the growing heap find nothing; they were a quarter of start-up.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _shared(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) else value


def _persist(path: Path, key: FakeKey) -> BodyFile:
    """Write the key's object file (a JSON header line, then the body); return its body."""
    header_length = 0

    def chunks() -> Generator[bytes]:
        nonlocal header_length
        # Under the key's lock, like moto's own reads: its buffer has one file position.
        with key.lock:
            try:
                etag = key.etag
                buffer = key._value_buffer
                buffer.seek(0)
                header = {
                    "key": key.name,
                    "size": key.size,
                    "etag": etag.strip('"'),
                    "last_modified": key.last_modified.isoformat(),
                    "storage_class": key.storage_class,
                    "metadata": dict(key.metadata),
                    "checksum_algorithm": key.checksum_algorithm,
                    "checksum_value": key.checksum_value,
                    "checksum_type": key.checksum_type,
                }
                # json.dumps escapes control characters, so the header is exactly one line.
                line = json.dumps(header).encode() + b"\n"
                header_length = len(line)
                yield line
                copied = 0
                while chunk := buffer.read(CHUNK):
                    copied += len(chunk)
                    yield chunk
            except ValueError:
                if key.disposed:  # moto closes a replaced or deleted key's buffer
                    raise _Superseded from None
                raise
            if copied != key.size:
                # moto computes a new key's ETag by reading its buffer without the lock, so a
                # request that does so meanwhile moves the position under this copy.
                raise _Superseded

    written = chunks()
    try:
        stat = _write_atomically(path, written)
    finally:
        written.close()
    return BodyFile.of(path, header_length, stat)


def _serve_from_file(key: FakeKey, body: BodyFile) -> None:
    """Let moto read the key's body from its object file, and drop every other copy.

    moto keeps a body in a SpooledTemporaryFile (memory, or a deleted temporary file past
    MOTO_S3_DEFAULT_KEY_BUFFER_SIZE) and a completed multipart upload's parts besides: once
    the object file is durable those are a second and third copy.
    """
    with key.lock:
        if key.disposed:
            return  # replaced or deleted meanwhile: nothing reads it any more
        spooled = key._value_buffer
        # moto types the attribute as SpooledTemporaryFile; it only seeks, reads and closes it.
        key._value_buffer = body  # type: ignore[assignment]
        key.contentsize = body.size
    spooled.close()
    if key.multipart is not None:
        # GetObject's partNumber needs only completed_part_sizes, which stays.
        key.multipart.dispose()
        key.multipart.parts.clear()


def _live_bucket(name: str) -> FakeBucket | None:
    # Bucket names are global across moto accounts and partitions, like S3's.
    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account_id = owner
    return s3_backends[account_id][partition].buckets.get(name)


def _live_key(bucket: FakeBucket, name: str) -> FakeKey | None:
    # Versioned buckets: only the newest version is mirrored; a delete marker means gone.
    key = bucket.keys.get(name)
    return key if isinstance(key, FakeKey) else None


def _forget_acls() -> None:
    # moto tracks every ACL, grant and grantee it makes (three per PUT), and reads the lists
    # only to empty them on reset: they hold no resource, and the live ones stay referenced
    # by their keys and buckets.
    for model in (FakeAcl, FakeGrant, FakeGrantee):
        model.instances_tracked.clear()  # type: ignore[union-attr]


def _reset_moto_s3() -> None:
    for account_backends in list(s3_backends.values()):
        account_backends.reset()
    # Reset disposes every FakeKey moto ever made but keeps the list, so each reset would
    # walk (and keep alive) the whole history; /moto-api/reset empties it the same way.
    # (moto's InstanceTrackerMeta adds the attribute at class creation; mypy can't see it.)
    FakeKey.instances_tracked.clear()  # type: ignore[attr-defined]
    FakeMultipart.instances_tracked.clear()  # type: ignore[attr-defined]
