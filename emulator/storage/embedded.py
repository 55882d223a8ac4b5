"""Embedded S3: moto's S3 app on a threaded werkzeug server, durable across `kill -9`.

The server and its snapshot files live here; every moto internal the store needs (its app,
and the mirror of its state on disk) lives in emulator/storage/moto_s3.py. docs/storage.md
says how the store works and what it costs.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from emulator.origins import SitePolicy
from emulator.ports import bind_port
from emulator.storage.durable import DurableS3App
from emulator.storage.guard import S3SiteGuard
from emulator.storage.moto_s3 import BUCKET_FILE, DiskMirror, RequestHandler, request_target, s3_app
from emulator.storage.objectfiles import fsync_dir as _fsync_dir

# serve_forever() checks for shutdown this often; werkzeug's default 0.5 s makes every stop() slow.
_POLL_INTERVAL_S = 0.1


class EmbeddedS3:
    """moto's S3 on a threaded werkzeug server, mirrored to `<data_dir>/s3`.

    moto's backends are process-global: start() replaces the process's whole moto S3 state
    with the contents of data_dir, so run one EmbeddedS3 per process (reset() clears all).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9000,
        data_dir: Path,
        policy: SitePolicy | None = None,
    ) -> None:
        self._host = host
        self._port = port
        # Which Host names and browser origins are served (README, Security).
        self._policy = policy or SitePolicy.build(host=host)
        self._mirror = DiskMirror(Path(data_dir) / "s3")
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Restore every bucket and object from disk, then serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("EmbeddedS3 is already started")
        # One access-log line per S3 request drowns everything else.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._mirror.restore()
        durable = DurableS3App(s3_app(), self._mirror, target=request_target)
        app = S3SiteGuard(durable, self._policy)
        # Bound here rather than by werkzeug, which prints and exits the process on a busy
        # port: PortInUse is one line that names the setting (`serve` prints it and stops).
        listening = bind_port(self._host, self._port, setting="EMULATOR_S3_PORT", flag="--s3-port")
        try:
            server = make_server(
                self._host,
                listening.getsockname()[1],
                app,
                threaded=True,
                request_handler=RequestHandler,
                fd=listening.fileno(),
            )
        finally:
            listening.close()  # werkzeug serves a duplicate of it
        # make_server() has already bound and called listen(): clients that connect now are
        # queued and answered as soon as serve_forever() runs, so start() can return.
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"embedded-s3:{server.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; every acknowledged write is already on disk."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()

    @property
    def endpoint_url(self) -> str:
        host, port = self._host, self._port
        if self._server is not None:
            port = self._server.port
        elif port == 0:
            raise RuntimeError("port 0 is only known once EmbeddedS3 is started")
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Delete every bucket and object, in memory and on disk."""
        self._mirror.clear()

    # -- snapshots (services/snapshots.py) ---------------------------------------------------
    # Object files are never written in place (a new file, then a rename), so a hard link to
    # one is a frozen copy of that object: a snapshot costs directory entries, not bytes.

    def export_objects(self, dest: Path) -> tuple[int, int]:
        """Link (or copy, where links fail) every persisted object into `dest`, as one
        instant of the store: the mirror's lock holds writes off meanwhile. Returns
        (objects, bytes on disk)."""
        count = size = 0
        dest.mkdir(parents=True, exist_ok=True)
        with self._mirror.lock:
            for bucket in sorted(self._mirror.root.iterdir()):
                if bucket.name.startswith(".") or not bucket.is_dir():
                    continue  # a bucket create or delete cut short
                target = dest / bucket.name
                target.mkdir()
                for path in bucket.iterdir():
                    if path.name.startswith(".") and path.name != BUCKET_FILE:
                        continue  # a write cut short
                    _link_or_copy(path, target / path.name)
                    if path.name != BUCKET_FILE:
                        count += 1
                        size += path.stat().st_size
                _fsync_dir(target)
        _fsync_dir(dest)
        return count, size

    def replace_objects(self, src: Path) -> None:
        """Make the store exactly the objects of `src` (a directory export_objects wrote)."""
        self._mirror.clear()
        root = self._mirror.root
        for bucket in sorted(src.iterdir()):
            if not bucket.is_dir():
                continue
            # Staged under a dot-name, as the mirror stages buckets: a restore cut short
            # leaves only what restore() removes.
            staging = root / f".new-{uuid.uuid4().hex}"
            staging.mkdir()
            for path in bucket.iterdir():
                _link_or_copy(path, staging / path.name)
            _fsync_dir(staging)
            os.replace(staging, root / bucket.name)
        _fsync_dir(root)
        self._mirror.restore()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(source, target)
        with open(target, "rb+") as f:
            os.fsync(f.fileno())
