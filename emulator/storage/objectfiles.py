"""The embedded S3's files under `<data_dir>/s3`: names, atomic writes, reads in place.

Plain file-system code, no moto: emulator/storage/moto_s3.py decides what is written and
when, and hands moto a `BodyFile` so a persisted body is served from its object file instead
of being held a second time in memory or in a temporary file (docs/storage.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Hex doubles a key's length; longer keys are named by their hash (the header keeps the key).
_MAX_HEX_NAME = 200
_PLAIN_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
# Bodies are copied and read in pieces of this size, so neither needs a whole body in memory.
CHUNK = 1024 * 1024
# A header line is a few hundred bytes: start-up reads this much of each object file.
HEADER_READ = 1024
# S3 caps user metadata at 2 KB: a file with no line end this far in is not an object file.
HEADER_MAX = 64 * 1024


class BodyFile:
    """A read-only file over bytes [offset, offset + size) of the object file at `path`.

    Holds no descriptor between reads (10,000 objects would need 10,000): each read opens
    the path and checks it is still the file it was made for (device and inode). The file is
    replaced by rename when its key is overwritten and unlinked when it is deleted; a read
    that finds another file, or none, fails like a read of a closed file (ValueError), which
    is what moto's own buffer does once a key is disposed. A read already under way keeps its
    descriptor, so a replace or delete during it does not cut it short.
    """

    # One per stored object, so no per-instance dict.
    __slots__ = ("_closed", "_pos", "identity", "offset", "path", "size")

    def __init__(
        self, path: str | Path, *, offset: int, size: int, identity: tuple[int, int]
    ) -> None:
        self.path = os.fspath(path)
        self.offset = offset
        self.size = size
        self.identity = identity
        self._pos = 0
        self._closed = False

    @classmethod
    def of(cls, path: str | Path, header_length: int, stat: os.stat_result) -> BodyFile:
        return cls(
            path,
            offset=header_length,
            size=stat.st_size - header_length,
            identity=(stat.st_dev, stat.st_ino),
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self._check_open()
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        if base + pos < 0:
            raise ValueError(f"negative seek position {base + pos}")
        self._pos = base + pos
        return self._pos

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        remaining = max(0, self.size - self._pos)
        count = remaining if size is None or size < 0 else min(size, remaining)
        if count == 0:
            return b""
        data = self._pread(self.offset + self._pos, count)
        self._pos += len(data)
        return data

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("a persisted object body is read-only")

    def truncate(self, size: int | None = None) -> int:
        raise io.UnsupportedOperation("a persisted object body is read-only")

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on closed file.")

    def _pread(self, at: int, count: int) -> bytes:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise ValueError(f"{self.path} was removed: the object was deleted") from None
        try:
            stat = os.fstat(fd)
            if (stat.st_dev, stat.st_ino) != self.identity:
                raise ValueError(f"{self.path} was replaced: the object was overwritten")
            pieces = []
            while count > 0:
                piece = os.pread(fd, min(count, CHUNK * 16), at)
                if not piece:
                    raise OSError(f"{self.path} ends before its header's size")
                pieces.append(piece)
                at += len(piece)
                count -= len(piece)
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)
        finally:
            os.close(fd)


def bucket_dirname(name: str) -> str:
    # DNS-style names are safe as they are; anything else moto let through is hex-encoded.
    if _PLAIN_BUCKET_NAME.fullmatch(name):
        return name
    return "=" + name.encode("utf-8", "surrogatepass").hex()


def key_filename(key: str) -> str:
    # Hex is safe for any key (`/`, `..`, unicode) and on case-insensitive file systems.
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) * 2 <= _MAX_HEX_NAME:
        return encoded.hex()
    return "=" + hashlib.sha256(encoded).hexdigest()


def write_atomically(path: Path, chunks: Iterable[bytes]) -> os.stat_result:
    """Replace `path` by a file of `chunks`, durably; return the new file's stat."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            stat = os.fstat(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return stat


def fsync_dir(path: Path) -> None:
    # The rename itself is only durable once the directory entry is flushed.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_header(path: str) -> tuple[dict[str, Any], BodyFile]:
    """An object file's header line, and its body left unread in the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.read(fd, HEADER_READ)
        while b"\n" not in head:  # a header with much metadata
            more = os.read(fd, HEADER_READ)
            if not more or len(head) > HEADER_MAX:
                raise ValueError("no header line")
            head += more
        stat = os.fstat(fd)
    finally:
        os.close(fd)
    length = head.index(b"\n") + 1
    header = json.loads(head[:length])
    body = BodyFile.of(path, length, stat)
    if body.size != header["size"]:
        raise ValueError(f"body is {body.size} bytes, header says {header['size']}")
    return header, body
