"""The worker: claims pending tasks and drives them through the lifecycle, one thread per slot.

    claim (pending -> downloading) -> fetch input, probe -> running: ffmpeg -> uploading -> success
    any TaskFailed -> fail (err_code, err_msg); del_task -> stop ffmpeg, remove the row

A heartbeat thread per task keeps its lease, writes progress and notices cancels (1 s).
A maintenance thread requeues tasks whose worker stopped heartbeating (SPEC.md section 5).
ffprobe loads its libraries while the input downloads and while ffmpeg runs, then reads the
finished file (probe.Probing's gate); the output is measured while it uploads. on_change
wakes the serving process's long-polls (wait_for_task) at each stage.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from emulator import callbacks
from emulator.config import Settings
from emulator.db import tasks as machine
from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import (
    LOGO_FETCH_FAILED,
    TRANSCODE_FAILED,
    UPLOAD_FAILED,
    TaskCancelled,
    TaskFailed,
)
from emulator.netguard import NetGuard
from emulator.services import faults, holds
from emulator.storage.store import ObjectStore, ObjectStoreError
from emulator.transcode import command, demuxers
from emulator.transcode.probe import MediaInfo, Probing
from emulator.transcode.runner import FfmpegFailed, run_ffmpeg
from emulator.worker_io import disk_full, fetch_input, fetch_logo, input_path

log = logging.getLogger("emulator.worker")

HEARTBEAT_S = 1.0


class LostTask(Exception):
    """Another process took the task over (its lease expired while we were stalled)."""


@dataclass
class Spare:
    """A temp dir whose ffprobe is loaded and waiting for the next task's input.

    An idle slot keeps one ready: loading ffprobe's libraries takes ~60 ms, longer than
    downloading a nearby input, and would otherwise delay every task by that much.
    """

    workdir: Path
    probing: Probing

    @property
    def usable(self) -> bool:
        return self.probing.waiting and self.workdir.is_dir()

    def discard(self) -> None:
        self.probing.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Job:
    """One claimed task as this worker sees it."""

    task: Task
    spare: Spare  # its temp dir, and the ffprobe waiting there for its input
    next_spare: Spare | None = None  # made once ffmpeg is done, for the slot's next task
    progress: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    # Faults injected through the control API that this task meets (taken at claim).
    faults: list[dict[str, Any]] = field(default_factory=list)

    @property
    def workdir(self) -> Path:
        return self.spare.workdir


class Worker:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        objects: ObjectStore,
        wakeup: threading.Event | None = None,
        worker_id: str | None = None,
        on_change: Callable[[], None] | None = None,
        guard: NetGuard | None = None,
    ) -> None:
        self.settings = settings
        # Where inputs and logos may connect (the serving process shares its own with callbacks).
        self.guard = guard or NetGuard(block_private=settings.block_private_networks == "on")
        self.db = db
        self.objects = objects
        self.wakeup = wakeup or threading.Event()
        # Called after each stage a task reaches (the serving process wakes its long-polls).
        self.on_change = on_change or (lambda: None)
        self.worker_id = worker_id or f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.tmp_root = settings.data_dir / "tmp"
        self.tmp_dir = self.tmp_root / self.worker_id
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._alive: int | None = None  # the lock that says this worker's temp dir is in use

    # -- lifecycle of the worker itself ------------------------------------------------------

    def start(self) -> None:
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        self._alive = hold_alive_lock(self.tmp_dir)
        self.requeue_stale()
        self.sweep_tmp()
        targets = [self._maintain] + [self._slot] * self.settings.worker_concurrency
        for index, target in enumerate(targets):
            thread = threading.Thread(target=target, name=f"worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 10) -> None:
        """Stop claiming; running tasks stop their ffmpeg and go back to pending for later."""
        self._stop.set()
        self.wakeup.set()
        for job in list(self.jobs.values()):
            job.lost.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads.clear()
        if self._alive is not None:
            os.close(self._alive)  # releases the lock: its dir may be swept from now on
            self._alive = None

    def cancel_all(self) -> None:
        """Stop every running task now (reset); their rows are removed by the caller."""
        for job in list(self.jobs.values()):
            job.cancelled.set()
        deadline = time.monotonic() + 10
        while self.jobs and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def running(self) -> int:
        return len(self.jobs)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or not any(t.is_alive() for t in self._threads)

    def requeue_stale(self) -> list[str]:
        with self.db.write(concurrent=True) as session:
            requeued = machine.requeue_stale(session, lease_s=self.settings.worker_lease_s)
        if requeued:
            log.warning("requeued %d task(s) whose worker stopped: %s", len(requeued), requeued)
            self.wakeup.set()
        return requeued

    def sweep_tmp(self) -> None:
        """Remove temp dirs of workers that are gone (a killed process's): a live worker holds
        the lock in its dir, even while idle with only a spare in it."""
        with self.db.read() as session:
            busy = set(
                session.exec(
                    select(Task.worker_id).where(col(Task.status).in_(machine.IN_FLIGHT))
                ).all()
            )
        for path in self.tmp_root.iterdir():
            if path.is_dir() and path.name not in busy and not _alive(path):
                shutil.rmtree(path, ignore_errors=True)
                _alive_file(path).unlink(missing_ok=True)

    def _maintain(self) -> None:
        interval = max(0.5, min(self.settings.worker_lease_s / 3, 5.0))
        while not self._stop.wait(interval):
            try:
                self.requeue_stale()
                self.sweep_tmp()
            except Exception:
                log.exception("requeueing stale tasks failed; trying again in %.1f s", interval)

    def _slot(self) -> None:
        spare: Spare | None = None
        try:
            while not self._stop.is_set():
                try:
                    if spare is not None and not spare.usable:
                        spare.discard()
                        spare = None
                    spare = spare or self._spare()
                    job = self._claim(spare)
                except Exception:
                    log.exception("claiming a task failed")
                    job = None
                if job is None:
                    self.wakeup.wait(self.settings.worker_poll_s)
                    self.wakeup.clear()
                    continue
                try:
                    self._run(job)
                except Exception:
                    # Only a refused bookkeeping write gets here: the slot lives on, and the
                    # task goes back to pending once its lease runs out.
                    log.exception("task %s: could not record how it ended", job.task.task_id)
                finally:
                    spare = job.next_spare
        finally:
            if spare is not None:
                spare.discard()

    def _spare(self) -> Spare | None:
        """A new Spare; None (logged) when the data dir refuses one: claims make their own."""
        try:
            return self._prepare()
        except OSError:
            log.exception("could not prepare a temp dir for the next task")
            return None

    def _prepare(self) -> Spare:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="task-", dir=self.tmp_dir))
        try:
            probing = Probing(input_path(workdir), gate_dir=workdir, formats=demuxers.INPUT_FORMATS)
            return Spare(workdir, probing)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def _claim(self, spare: Spare | None) -> Job | None:
        # Claims pass each other on PostgreSQL (row locks); consuming faults rewrites shared
        # state, so it gets a transaction of its own that runs alone among writers.
        with self.db.write(concurrent=True) as session:
            if holds.blocks_claims(session, self.settings):
                return None
            task = machine.claim(
                session, worker_id=self.worker_id, skip=holds.held_pending(session)
            )
            if task is None:
                return None
        with self.db.write() as session:
            injected = faults.take_for_task(session=session, task_id=task.task_id)
        spare = spare or self._prepare()
        return Job(task=task, spare=spare, faults=injected)

    # -- one task ----------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        task_id = job.task.task_id
        self.jobs[task_id] = job
        beat = threading.Thread(target=self._heartbeat, args=(job,), daemon=True)
        beat.start()
        try:
            self._execute(job)
        except TaskCancelled:
            self._finish_cancelled(job)
        except LostTask:
            log.info("task %s: handed back (stopped or taken over)", task_id)
            self._release(job)
        except TaskFailed as failure:
            self._fail(job, failure)
        except Exception as exc:
            log.exception("task %s: unexpected error", task_id)
            stage, data_dir = job.task.status, self.settings.data_dir
            self._fail(job, _as_failure(exc, stage=stage, data_dir=data_dir))
        finally:
            job.done.set()
            beat.join(timeout=5)
            job.spare.discard()
            self.jobs.pop(task_id, None)

    def _execute(self, job: Job) -> None:
        task = job.task
        self._hold(job, "downloading")
        self._meet_faults(job, "downloading")
        source_path = input_path(job.workdir)
        with job.spare.probing as probing:  # loaded already; reads the input once complete
            fetch_input(
                task,
                workdir=job.workdir,
                objects=self.objects,
                settings=self.settings,
                guard=self.guard,
            )
            self._check(job)
            probing.release()  # the logo downloads while ffprobe reads the input
            try:
                logo_path = fetch_logo(
                    task,
                    workdir=job.workdir,
                    objects=self.objects,
                    settings=self.settings,
                    guard=self.guard,
                )
            except TaskFailed:
                probing.result()  # an input that is no video fails first, as it did before
                raise
            source = probing.result()
        self._advance(
            job, "running", src_bitrate=source.bitrate_kbps, media={"source": _media(source)}
        )
        self._hold(job, "running")
        self._meet_faults(job, "running")
        output = self._plan(job, source_path, source, logo_path)
        finished, keys = self._transcode_and_upload(job, output, source)
        result = finished.info
        groups = [
            group.to_json(lambda path: _object_key(task, output, path)) for group in finished.groups
        ]
        media_extra: dict[str, Any] = {"output_groups": groups}
        if output.encryption is not None:  # served at /_emulator/media-keys/{task_id}
            media_extra["hls_key_hex"] = output.encryption.key.hex()
        self._advance(
            job,
            "success",
            dst_bitrate=result.bitrate_kbps,
            duration=result.duration,
            width=result.width,
            height=result.height,
            output_keys=keys,
            media={"source": _media(source), "output": _media(result), **media_extra},
        )

    def _plan(
        self, job: Job, source_path: Path, source: MediaInfo, logo_path: Path | None
    ) -> command.EncodePlan:
        task = job.task
        # Named after the task, so `ps` shows which task each ffmpeg works for (the temp dir
        # was made before the task was known: Spare).
        out_dir = job.workdir / task.task_id
        out_dir.mkdir()
        return command.build_plan(
            command.TemplateSpec.from_task(task.template),
            input_path=source_path,
            out_dir=out_dir,
            basename=Path(task.objkey).stem or "output",
            source=source,
            logo_path=logo_path,
            preset=self.settings.encoder_preset,
            media_key_url=f"{self.settings.api_base_url}/_emulator/media-keys/{task.task_id}",
            max_pixel_rate=self.settings.max_pixel_rate,
        )

    def _transcode_and_upload(
        self, job: Job, plan: command.EncodePlan, source: MediaInfo
    ) -> tuple[command.Finished, list[str]]:
        """Run ffmpeg, then measure the output (ffprobe) while uploading it.

        ffprobe loads its libraries (~60 ms) beside ffmpeg and reads the output once ffmpeg has
        finished, so the measurement takes little more than the upload. When finish() rewrites
        files (HLS master bandwidths, AES-128) it measures them itself and the upload waits.
        """
        if command.rewrites_outputs(plan):
            stderr_tail = self._transcode(job, plan, source)
            self._save(job, stderr_tail=stderr_tail)
            finished = command.finish(plan)
            self._check(job)
            return finished, self._upload(job, plan)
        with Probing(plan.output, gate_dir=job.workdir) as measuring:
            stderr_tail = self._transcode(job, plan, source)
            measuring.release()
            try:
                self._save(job, stderr_tail=stderr_tail)
                self._check(job)
                keys = self._upload(job, plan)
            except TaskFailed:
                measuring.result()  # a failed measurement wins over a failed upload
                raise
            return command.finish(plan, probed=measuring.result()), keys

    def _transcode(self, job: Job, plan: command.EncodePlan, source: MediaInfo) -> str:
        """Run ffmpeg; its stderr tail (saved with the next write)."""
        elapsed = time.time() - job.task.stage_times.get("downloading", time.time())
        try:
            result = run_ffmpeg(
                plan.args,
                duration_s=source.duration,
                on_progress=lambda percent: setattr(job, "progress", percent),
                should_cancel=lambda: self._interrupted(job),
                timeout_s=max(1.0, self.settings.task_timeout - elapsed),
                memory_limit_mb=self.settings.ffmpeg_memory_mb,
                # Shown while ffmpeg runs; written while it loads its libraries.
                on_started=lambda: self._save(
                    job, ffmpeg_command=command.describe_command(plan.args)
                ),
            )
        except FfmpegFailed as failure:
            self._save(job, stderr_tail=failure.stderr_tail)
            if demuxer := demuxers.refused(failure.stderr_tail):
                # The input passed the same whitelist when it was probed: the logo did not.
                problem = "logo is not a self-contained image or video"
                raise demuxers.refusal(LOGO_FETCH_FAILED, problem, demuxer) from None
            raise
        # The next task's ffprobe loads while this one uploads, on a CPU ffmpeg has freed.
        job.next_spare = self._spare()
        self._check(job)
        return result.stderr_tail

    def _upload(self, job: Job, plan: command.EncodePlan) -> list[str]:
        """The uploading stage: every written file to the task's storage; TaskFailed 2004."""
        self._advance(job, "uploading")
        self._hold(job, "uploading")
        self._meet_faults(job, "uploading")
        task = job.task
        store = self.objects.client_for(
            task.storage.get("storage_ak"), task.storage.get("storage_sk")
        )
        bucket = task.storage["bucket"]
        keys = []
        for path in command.written_files(plan):
            key = _object_key(task, plan, path)
            self._check(job)
            try:
                store.upload_file(path, bucket, key)
            except ObjectStoreError as exc:
                # The store's messages start with the object's s3:// URL.
                raise TaskFailed(UPLOAD_FAILED, f"upload failed: {exc.message}") from None
            keys.append(key)
        return keys

    # -- bookkeeping -------------------------------------------------------------------------

    def _heartbeat(self, job: Job) -> None:
        # Several beats per lease, so one slow write never costs a live task its claim.
        interval = min(HEARTBEAT_S, self.settings.worker_lease_s / 3)
        while not job.done.wait(interval):
            try:
                with self.db.write(concurrent=True) as session:
                    beat = machine.heartbeat(
                        session,
                        task_id=job.task.task_id,
                        worker_id=self.worker_id,
                        progress=job.progress,
                    )
            except Exception:
                log.exception("task %s: heartbeat failed", job.task.task_id)
                continue
            if beat == "cancelled":
                job.cancelled.set()
            elif beat == "lost":
                job.lost.set()

    def _interrupted(self, job: Job) -> bool:
        return job.cancelled.is_set() or job.lost.is_set() or self._stop.is_set()

    def _check(self, job: Job) -> None:
        if job.cancelled.is_set():
            raise TaskCancelled(job.task.task_id)
        if job.lost.is_set() or self._stop.is_set():
            raise LostTask(job.task.task_id)

    def _hold(self, job: Job, stage: str) -> None:
        """Park in `stage` while a hold names it (tests choose what they observe)."""
        while True:
            self._check(job)
            with self.db.read() as session:
                if not holds.holds_task(session, self.settings, stage, job.task.task_id):
                    return
            time.sleep(0.1)

    def _meet_faults(self, job: Job, stage: str) -> None:
        """Injected faults (control API): a slowed stage waits, a failing one fails here."""
        if not job.faults:
            return
        delay, failure = faults.stage_effect(job.faults, stage)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            self._check(job)
            job.cancelled.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        self._check(job)
        if failure is not None:
            raise failure

    def _advance(self, job: Job, to: str, **fields: Any) -> None:
        with self.db.write(concurrent=True) as session:
            task = machine.owned(session, task_id=job.task.task_id, worker_id=self.worker_id)
            if task is None:
                raise LostTask(job.task.task_id)
            if task.deleted:
                raise TaskCancelled(job.task.task_id)
            machine.transition(session, task, to, **fields)
            callbacks.enqueue(session, task)  # only when `to` is final and storage has notify
        job.task = task
        self.on_change()

    def _save(self, job: Job, **fields: Any) -> None:
        """Details for the task row (command, stderr); a refused write (disk full) is not fatal."""
        try:
            with self.db.write(concurrent=True) as session:
                task = machine.owned(session, task_id=job.task.task_id, worker_id=self.worker_id)
                if task is not None:
                    for key, value in fields.items():
                        setattr(task, key, value)
                    session.add(task)
        except DBAPIError as exc:
            log.warning("task %s: could not save %s: %s", job.task.task_id, list(fields), exc.orig)

    def _fail(self, job: Job, failure: TaskFailed) -> None:
        """Record the failure, retrying while the database refuses the write.

        Giving up would leave the task in flight, to be requeued and run again once its lease
        runs out, and again, for as long as the database stays unwritable.
        """
        log.info("task %s failed: %s %s", job.task.task_id, failure.err_code, failure.message)
        # Temp files go first: on a full disk the database needs their room to record this.
        job.spare.discard()
        fields: dict[str, Any] = {"err_code": failure.err_code, "err_msg": failure.message}
        if isinstance(failure, FfmpegFailed):  # in case _transcode's own save found no room
            fields["stderr_tail"] = failure.stderr_tail
        pause = 0.5
        while True:
            try:
                self._advance(job, "fail", **fields)
                return
            except (LostTask, TaskCancelled):
                self._finish_cancelled(job)
                return
            except DBAPIError as exc:
                if self._stop.is_set():  # the next start requeues it
                    raise
                log.warning(
                    "task %s: could not record its failure (%s); trying again in %.1f s",
                    job.task.task_id,
                    exc.orig,
                    pause,
                )
            self._stop.wait(pause)
            pause = min(pause * 2, 5.0)

    def _finish_cancelled(self, job: Job) -> None:
        with self.db.write() as session:
            task = session.get(Task, job.task.task_id)
            if task is not None and task.deleted:
                machine.remove(session, task_id=task.task_id)

    def _release(self, job: Job) -> None:
        """Hand an unfinished task back to pending (clean stop), unless someone else has it."""
        with self.db.write() as session:
            task = machine.owned(session, task_id=job.task.task_id, worker_id=self.worker_id)
            if task is not None and not task.deleted:
                machine.transition(session, task, machine.PENDING, worker_id=None, progress=0)
            elif task is not None:
                machine.remove(session, task_id=task.task_id)


_DOING = {"downloading": "fetching the input", "running": "transcoding", "uploading": "uploading"}


def _as_failure(exc: Exception, *, stage: str, data_dir: Path) -> TaskFailed:
    """An unexpected error as a one-line 2003, saying plainly when the disk or database was full."""
    doing = _DOING.get(stage, stage)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return disk_full(TRANSCODE_FAILED, doing, data_dir)
    if isinstance(exc, DBAPIError):  # str(exc) would carry the SQL and its parameters
        reason = " ".join(str(exc.orig).split())
        return TaskFailed(TRANSCODE_FAILED, f"database error while {doing}: {reason}")
    return TaskFailed(TRANSCODE_FAILED, f"transcoding failed: {exc}")


def _object_key(task: Task, plan: command.EncodePlan, path: Path) -> str:
    """The main output goes to objkey; every other file beside it, under its relative name."""
    if path == plan.output:
        return task.objkey
    folder = task.objkey.rpartition("/")[0]
    return "/".join(filter(None, [folder, path.relative_to(plan.out_dir).as_posix()]))


def _media(info: MediaInfo) -> dict[str, Any]:
    return dict(info.__dict__)


def run_worker_process(settings: Settings) -> int:
    """`transcode-emulator worker`: workers only, on the database and S3 the settings name."""
    import signal

    from emulator.db import state
    from emulator.db.migrate import migrate
    from emulator.runtime import S3_ENDPOINT_KEY, prepare_data_dir, require_ffmpeg

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


# <data dir>/workers/<worker id>.alive: outside tmp/, which holds only task files.
ALIVE_DIR = "workers"
# A dir with no lock file yet may belong to a worker between its mkdir and its lock.
_NEW_DIR_S = 60.0


def _alive_file(tmp_dir: Path) -> Path:
    return tmp_dir.parent.parent / ALIVE_DIR / f"{tmp_dir.name}.alive"


def hold_alive_lock(tmp_dir: Path) -> int:
    """Create the worker's temp dir and lock its `.alive` file for as long as the worker lives.

    An flock goes with the process (kill -9 included) and conflicts between two opens even in
    one process, so other workers, here or elsewhere on this data dir, can tell a live worker's
    dir (even an idle one's, holding only a spare) from a dead worker's.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    _alive_file(tmp_dir).parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(_alive_file(tmp_dir), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _alive(path: Path) -> bool:
    """Whether a live worker holds the temp dir at `path`."""
    try:
        fd = os.open(_alive_file(path), os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - path.stat().st_mtime < _NEW_DIR_S
        except FileNotFoundError:
            return False
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
