"""Start and stop what the emulator runs besides HTTP: database, object store, workers."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import col, select

from emulator import callbacks
from emulator.config import Settings
from emulator.context import Context
from emulator.db import state
from emulator.db.migrate import migrate
from emulator.db.models import AccessKey, Task
from emulator.db.tasks import STATUSES
from emulator.origins import SitePolicy
from emulator.services import faults, holds, seed
from emulator.services.buckets import bucket_preparer
from emulator.services.faults import FaultWatch
from emulator.services.requestlog import RequestLog
from emulator.services.reset import reset_database
from emulator.storage.store import ObjectStore

if TYPE_CHECKING:
    from emulator.storage.embedded import EmbeddedS3

log = logging.getLogger("emulator")

S3_ENDPOINT_KEY = "s3_endpoint"


class Runtime:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.s3: EmbeddedS3 | None = None
        self.worker: Any = None  # emulator.worker.Worker, imported lazily (ffmpeg modules)
        # Task callbacks go out from the serving process, whichever process ran the task.
        self.callbacks = callbacks.Deliverer(db=ctx.db, guard=ctx.guard)
        # Control API helpers that requests reach through the context (api/deps, middleware).
        if ctx.faults is None:
            ctx.faults = FaultWatch(ctx.db)
        if ctx.request_log is None:
            ctx.request_log = RequestLog(
                ctx.settings.request_log_size, ctx.settings.request_log_bytes
            )
        self.faults: FaultWatch = ctx.faults
        self.requests: RequestLog = ctx.request_log
        self.seed: seed.Seed | None = None
        self.started = False
        # Saves, restores and deletes of snapshots take turns (services/snapshots.py).
        self.snapshot_lock = threading.Lock()

    def start(self) -> None:
        """Everything but HTTP; `serve` calls it before uvicorn, so a busy S3 port or a bad
        seed file is one line instead of a lifespan traceback. A second call does nothing."""
        if self.started:
            return
        settings = self.ctx.settings
        # Read first: a broken seed file stops start-up before anything is written.
        self.seed = seed.load(settings.seed) if settings.seed else None
        if settings.worker_concurrency > 0:
            require_ffmpeg()
        prepare_data_dir(settings.data_dir)
        if settings.database_url is None:
            check_database(Path(settings.data_dir))
        migrate(self.ctx.db, lock_dir=settings.data_dir)
        restrict_database_files(settings.data_dir)
        if settings.database_url is None:
            (Path(settings.data_dir) / INITIALIZED).touch(mode=0o600)
        if not self.ctx.db.is_sqlite:  # API nodes behind a load balancer see each other's nonces
            self.ctx.nonces.share_through(self.ctx.db)
        self._start_object_store()
        self._initial_state()
        if settings.worker_concurrency > 0:
            from emulator.worker import Worker
            from emulator.worker.loop import LISTEN_CHECK_S

            self.worker = Worker(
                settings=settings,
                db=self.ctx.db,
                objects=self.objects,
                wakeup=self.ctx.wakeup,
                on_change=self._task_changed,
                guard=self.ctx.guard,
                rules_changed=self.ctx.rules_changed,
                # create_task here wakes it directly: the poll is only a safety net.
                poll_s=max(settings.worker_poll_s, LISTEN_CHECK_S),
            )
            self.worker.start()
        self.callbacks.start()
        self.started = True
        self.ctx.ready = True

    def stop(self) -> None:
        self.ctx.ready = False
        self.started = False
        if self.worker is not None:
            self.worker.stop()
        self.callbacks.stop()
        if self.s3 is not None:
            self.s3.stop()
        self.ctx.db.dispose()

    def _task_changed(self) -> None:
        """A task moved in this process: long-polls answer, a final one's callback goes now."""
        self.ctx.task_changes.notify()
        self.callbacks.wake()

    @property
    def objects(self) -> ObjectStore:
        assert self.ctx.objects is not None
        return self.ctx.objects

    def _start_object_store(self) -> None:
        settings = self.ctx.settings
        endpoint = settings.s3_endpoint_url
        if endpoint is None:
            # moto (with Flask) is slow to import: only when S3 is embedded (docs/performance.md).
            from emulator.storage.embedded import EmbeddedS3

            self.s3 = EmbeddedS3(
                host=settings.host,
                port=settings.s3_port,
                data_dir=settings.data_dir,
                policy=SitePolicy.from_settings(settings),
            )
            self.s3.start()
            endpoint = self.s3.endpoint_url
        self.ctx.s3_endpoint = endpoint
        self.ctx.objects = ObjectStore(endpoint_url=endpoint, public_url=settings.public_s3_url)

    def _initial_state(self) -> None:
        """What start-up builds and every reset builds again, so the two cannot drift: the
        configured key, the S3 endpoint record, the seed file's rows and their buckets.
        (Built-in templates come with the schema: a reset never deletes them.)"""
        self._sync_configured_key()
        with self.ctx.db.write() as session:
            # Separate `worker` processes find the embedded endpoint here (docs/transcoding.md).
            if self.ctx.s3_endpoint:
                state.put(session, S3_ENDPOINT_KEY, self.ctx.s3_endpoint)
            if self.seed is not None:
                seed.apply(
                    self.seed,
                    session=session,
                    now=state.clock_now(session),
                    prepare_bucket=bucket_preparer(self.ctx),
                    max_pixel_rate=self.ctx.settings.max_pixel_rate,
                )

    def reset(self, parts: list[str]) -> None:
        """Stop running work, then clear the database parts and objects (POST /_emulator/reset)."""
        if self.worker is not None and "tasks" in parts:
            with self.ctx.db.write() as session:
                session.execute(Task.__table__.update().values(deleted=True))  # type: ignore[attr-defined]
            self.worker.cancel_all()
        with self.ctx.db.write() as session:
            reset_database(session=session, parts=parts)
            if "tasks" in parts:
                callbacks.clear(session)
        if "objects" in parts:
            if self.s3 is not None:
                self.s3.reset()
            elif self.ctx.objects is not None:
                self.ctx.objects.delete_all()
        self._initial_state()
        if "state" in parts:  # clock, holds and faults went with the kv table
            self.faults.invalidate()
            self.requests.clear()
            self.ctx.stage_rules_changed()
        self.ctx.nonces.clear()

    def restored(self) -> None:
        """After a snapshot replaced the database and objects: what start-up guarantees
        (configured key, S3 endpoint record, seed rows), then the worker wakes to run the
        snapshot's pending tasks."""
        self._initial_state()
        self.faults.invalidate()
        self.ctx.wake_workers()
        self.ctx.task_changes.notify()

    def health(self) -> dict[str, Any]:
        with self.ctx.db.read() as session:
            counts = dict.fromkeys(STATUSES, 0)
            counts.update(
                session.exec(
                    select(Task.status, func.count())
                    .where(col(Task.deleted).is_(False))
                    .group_by(Task.status)
                ).all()
            )
            clock = state.clock_setting(session)
            held = len(holds.list_holds(session))
            active_faults = len(faults.active(faults.list_all(session=session)))
        worker = self.worker
        settings = self.ctx.settings
        return {
            "worker": {
                "enabled": worker is not None,
                "state": _worker_state(worker),
                "concurrency": settings.worker_concurrency,
                "running": worker.running if worker else 0,
                "worker_id": worker.worker_id if worker else None,
                "hold_stage": settings.hold_stage,
            },
            "tasks": counts,
            "control": {
                "enabled": settings.control == "on",
                "token_required": bool(settings.control_token),
                "holds": held,
                "faults": active_faults,
                "clock": clock or None,
            },
        }

    def _sync_configured_key(self) -> None:
        """The configured pair always works; it replaces the previous configured one."""
        settings = self.ctx.settings
        with self.ctx.db.write() as session:
            for old in session.exec(select(AccessKey).where(col(AccessKey.configured))):
                if old.access_key_id != settings.access_key_id:
                    session.delete(old)
            key = session.get(AccessKey, settings.access_key_id) or AccessKey(
                access_key_id=settings.access_key_id,
                access_key_secret=settings.access_key_secret,
                created_at=time.time(),
            )
            key.access_key_secret = settings.access_key_secret
            key.configured = True
            key.enabled = True
            session.add(key)
        self.ctx.keys.forget()


def _worker_state(worker: Any) -> str:
    """off (no worker here), running (claiming tasks) or stopped."""
    if worker is None:
        return "off"
    return "stopped" if worker.stopped else "running"


class FfmpegMissing(RuntimeError):
    pass


INITIALIZED = ".initialized"


class DatabaseUnusable(RuntimeError):
    """The data dir's database is missing or corrupt: never start silently with an empty one."""


def check_database(data_dir: Path) -> None:
    """Refuse a data dir whose database was deleted (the marker says one existed) or is corrupt."""
    import sqlite3

    database = data_dir / "emulator.sqlite3"
    advice = f"restore it from a backup, or delete {data_dir} to start empty"
    if not database.exists() or database.stat().st_size == 0:
        if (data_dir / INITIALIZED).exists():
            raise DatabaseUnusable(
                f"database {database} is missing but {data_dir} was used: {advice}"
            )
        return
    try:
        with sqlite3.connect(database) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        connection.close()
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise DatabaseUnusable(f"database {database} is corrupt ({verdict}): {advice}")


def require_ffmpeg() -> None:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        raise FfmpegMissing(
            f"{' and '.join(missing)} not found on PATH: install ffmpeg (Debian/Ubuntu: "
            "apt-get install -y ffmpeg; macOS: brew install ffmpeg), or run with "
            "EMULATOR_WORKER_CONCURRENCY=0 for an API without a worker"
        )


def prepare_data_dir(path: os.PathLike[str] | str) -> None:
    """The data dir holds secrets (keys, storage credentials): owner-only."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    restrict_database_files(path)


def restrict_database_files(path: os.PathLike[str] | str) -> None:
    """The SQLite files owner-only even without the CLI's umask (an in-process server): SQLite
    creates -wal and -shm with the database file's mode, so this holds for later ones too."""
    for file in Path(path).glob("emulator.sqlite3*"):
        os.chmod(file, 0o600)


def run_worker_process(settings: Settings) -> int:
    """`transcode-emulator worker`: workers only, on the database and S3 the settings name."""
    import signal
    import threading

    from emulator.db.engine import Database
    from emulator.worker import Worker

    require_ffmpeg()
    prepare_data_dir(settings.data_dir)
    db = Database(settings.sqlalchemy_url)
    migrate(db, lock_dir=settings.data_dir)
    endpoint = settings.s3_endpoint_url
    deadline = time.monotonic() + 30
    while endpoint is None:  # the serving process records its embedded endpoint at start
        with db.read() as session:
            endpoint = state.get(session, S3_ENDPOINT_KEY)
        if endpoint is None and time.monotonic() > deadline:
            print(
                "transcode-emulator worker: no S3 endpoint: start `serve` first or set "
                "EMULATOR_S3_ENDPOINT_URL"
            )
            return 2
        if endpoint is None:
            time.sleep(0.2)
    worker = Worker(
        settings=settings,
        db=db,
        objects=ObjectStore(endpoint_url=endpoint, public_url=settings.public_s3_url),
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    print(
        f"worker {worker.worker_id}: {settings.worker_concurrency} slot(s), S3 at {endpoint}",
        flush=True,
    )
    stop.wait()
    worker.stop()
    db.dispose()
    return 0
