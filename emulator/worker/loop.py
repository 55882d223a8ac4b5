"""The worker: slots that claim pending tasks and run them, and what keeps claims honest.

    slot thread (× concurrency)   wait for a wakeup -> claim -> run the job's stages -> settle
    heartbeat thread (per task)   keeps the lease, writes progress, notices del_task (1 s)
    maintenance thread            requeues tasks whose worker stopped beating, sweeps tmp/
    watch thread                  wakes idle slots when a task is pending that this process
                                  did not create: NOTIFY on PostgreSQL; on SQLite a read-only
                                  poll, every EMULATOR_WORKER_POLL_S in a `worker` process

Idle slots write nothing: they wait on `wakeup`, which create_task, hold releases and requeues
in this process set directly (docs/transcoding.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from emulator import callbacks
from emulator.config import Settings
from emulator.db import tasks as machine
from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import TaskCancelled, TaskFailed
from emulator.netguard import NetGuard
from emulator.services import faults
from emulator.storage.store import ObjectStore
from emulator.transcode.prober import Prober
from emulator.worker import job as stages
from emulator.worker.alive import alive_file, hold_alive_lock, is_alive
from emulator.worker.hooks import StageHooks
from emulator.worker.job import Job, LostTask, Tools
from emulator.worker.settle import Ledger, Outcome, advance, as_failure, settle

log = logging.getLogger("emulator.worker")

HEARTBEAT_S = 1.0
# On PostgreSQL a missed NOTIFY (the listener reconnecting) is made good by a look this often;
# so is, for a worker in the serving process, a task another process created on its SQLite.
LISTEN_CHECK_S = 5.0


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
        rules_changed: threading.Event | None = None,
        poll_s: float | None = None,
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
        # How often idle slots look for tasks created by other processes (SQLite).
        self.poll_s = poll_s or settings.worker_poll_s
        self.hooks = StageHooks(db=db, settings=settings, changed=rules_changed)
        self.tmp_root = settings.data_dir / "tmp"
        self.tmp_dir = self.tmp_root / self.worker_id
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.jobs: dict[str, Job] = {}
        self._alive: int | None = None  # the lock that says this worker's temp dir is in use
        self._ledger = Ledger(
            db=db, worker_id=self.worker_id, stopping=self._stop, on_change=self.on_change
        )

    # -- lifecycle of the worker itself ------------------------------------------------------

    def start(self) -> None:
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        self._alive = hold_alive_lock(self.tmp_dir)
        self.requeue_stale()
        self.sweep_tmp()
        targets = [self._maintain, self._watch] + [self._slot] * self.settings.worker_concurrency
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
        """Tasks whose worker stopped beating: back to pending, or failed once out of tries."""
        max_tries, lease_s = self.settings.worker_max_tries, self.settings.worker_lease_s
        with self.db.read() as session:  # idle, the usual answer: a read, not a write
            if not machine.any_stale(session, lease_s=lease_s):
                return []
        with self.db.write(concurrent=True) as session:
            requeued = machine.requeue_stale(session, lease_s=lease_s, max_tries=max_tries)
            lost: list[Task] = session.info.pop(machine.LOST, [])
            for task in lost:
                callbacks.enqueue(session, task)
        if requeued:
            log.warning("requeued %d task(s) whose worker stopped: %s", len(requeued), requeued)
            self.wakeup.set()
        if lost:
            log.warning("failed %d task(s) out of tries: %s", len(lost), [t.task_id for t in lost])
            self.on_change()
        return requeued

    def sweep_tmp(self) -> None:
        """Remove temp dirs of workers that are gone (a killed process's): a live worker holds
        the lock in its dir, even while idle."""
        with self.db.read() as session:
            busy = set(
                session.exec(
                    select(Task.worker_id).where(col(Task.status).in_(machine.IN_FLIGHT))
                ).all()
            )
        for path in self.tmp_root.iterdir():
            if path.is_dir() and path.name not in busy and not is_alive(path):
                shutil.rmtree(path, ignore_errors=True)
                alive_file(path).unlink(missing_ok=True)

    # -- threads -----------------------------------------------------------------------------

    def _maintain(self) -> None:
        interval = max(0.5, min(self.settings.worker_lease_s / 3, 5.0))
        while not self._stop.wait(interval):
            try:
                self.requeue_stale()
                self.sweep_tmp()
            except Exception:
                log.exception("requeueing stale tasks failed; trying again in %.1f s", interval)

    def _watch(self) -> None:
        """Wake idle slots for tasks this process did not create (another process's API)."""
        if not self.db.is_sqlite:
            self._listen()
            return
        while not self._stop.wait(self.poll_s):
            self._wake_if_pending()

    def _wake_if_pending(self) -> None:
        if self.running >= self.settings.worker_concurrency:
            return
        try:
            # On SQLite a view that only re-reads after some connection committed.
            if self.db.read_view(("worker", "pending"), machine.pending_exists):
                self.wakeup.set()
        except Exception:
            log.exception("looking for pending tasks failed")

    def _listen(self) -> None:
        """PostgreSQL: wait for machine.announce()'s NOTIFY, reconnecting when dropped."""
        import psycopg

        url = make_url(self.db.url).set(drivername="postgresql")
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    url.render_as_string(hide_password=False), autocommit=True, connect_timeout=10
                ) as connection:
                    connection.execute(f"LISTEN {machine.CHANNEL}")
                    self._wake_if_pending()  # what was announced before we listened
                    while not self._stop.is_set():
                        notices = list(connection.notifies(timeout=LISTEN_CHECK_S, stop_after=1))
                        if notices:
                            self.wakeup.set()
                        else:
                            self._wake_if_pending()
            except Exception:
                log.exception("listening for new tasks failed; again in %.0f s", LISTEN_CHECK_S)
                self._stop.wait(LISTEN_CHECK_S)

    def _slot(self) -> None:
        # The slot's own probe helper, loaded while it waits for its first task.
        with Prober(memory_limit_mb=self.settings.ffmpeg_memory_mb) as prober:
            prober.start()
            tools = Tools(
                settings=self.settings,
                objects=self.objects,
                guard=self.guard,
                probe=prober.probe,
                save=self._save,
            )
            while not self._stop.is_set():
                try:
                    job = self._claim()
                except Exception:
                    log.exception("claiming a task failed")
                    job = None
                if job is None:
                    self.wakeup.wait()
                    self.wakeup.clear()
                    continue
                try:
                    self._run(job, tools)
                except Exception:
                    # Only a refused bookkeeping write gets here: the slot lives on, and the
                    # task goes back to pending once its lease runs out.
                    log.exception("task %s: could not record how it ended", job.task_id)

    def _claim(self) -> Job | None:
        with self.db.write(concurrent=True) as session:
            self.hooks.refresh(session)  # holds and faults as of this claim
            if self.hooks.blocks_claims():
                return None
            task = machine.claim(session, worker_id=self.worker_id, skip=self.hooks.held_pending())
            if task is None:
                return None
        taken: list[dict[str, Any]] = []
        if self.hooks.task_faults:
            # Claims pass each other on PostgreSQL (row locks); consuming faults rewrites shared
            # state, so it gets a transaction of its own that runs alone among writers.
            with self.db.write() as session:
                taken = faults.take_for_task(session=session, task_id=task.task_id)
        self.wakeup.set()  # another idle slot may find the next pending task
        self.on_change()
        try:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            workdir = Path(tempfile.mkdtemp(prefix=f"{task.task_id}-", dir=self.tmp_dir))
        except OSError as exc:
            outcome = Outcome.failed(as_failure(exc, stage="downloading", data_dir=self.tmp_root))
            settle(self._ledger, task, outcome, free_disk=lambda: None)
            return None
        return Job(task=task, workdir=workdir, faults=taken)

    # -- one task ----------------------------------------------------------------------------

    def _run(self, job: Job, tools: Tools) -> None:
        self.jobs[job.task_id] = job
        if self._stop.is_set():
            job.lost.set()
        beat = threading.Thread(target=self._heartbeat, args=(job,), daemon=True)
        beat.start()
        outcome = Outcome("requeued")  # what an escaping BaseException leaves: the lease decides
        try:
            self._stages(job, tools)
            outcome = Outcome("success", stages.success_fields(job))
        except TaskCancelled:
            outcome = Outcome("cancelled")
        except LostTask:
            outcome = Outcome("requeued")
        except TaskFailed as failure:
            outcome = Outcome.failed(failure)
        except Exception as exc:
            log.exception("task %s: unexpected error", job.task_id)
            stage, data_dir = job.task.status, self.settings.data_dir
            outcome = Outcome.failed(as_failure(exc, stage=stage, data_dir=data_dir))
        finally:
            try:
                settle(self._ledger, job.task, outcome, free_disk=lambda: _remove(job.workdir))
            finally:
                job.done.set()
                beat.join(timeout=5)
                _remove(job.workdir)
                self.jobs.pop(job.task_id, None)

    def _stages(self, job: Job, tools: Tools) -> None:
        entered = None
        for status, stage in stages.STAGES:
            if status != entered:
                if status != job.task.status:  # the claim moved it into downloading already
                    self._advance(job, status, **stages.entering_fields(job, status))
                self.hooks.enter(
                    status, task_id=job.task_id, taken=job.faults, check=job.check, pause=job.pause
                )
                entered = status
            stage(job, tools)

    def _advance(self, job: Job, to: str, **fields: Any) -> None:
        job.task = advance(self._ledger, job.task, to, fields)

    def _save(self, job: Job, **fields: Any) -> None:
        """Details for the task row (command, stderr); a refused write (disk full) is not fatal."""
        try:
            with self.db.write(concurrent=True) as session:
                task = machine.owned(session, task_id=job.task_id, worker_id=self.worker_id)
                if task is not None:
                    for key, value in fields.items():
                        setattr(task, key, value)
                    session.add(task)
        except DBAPIError as exc:
            log.warning("task %s: could not save %s: %s", job.task_id, list(fields), exc.orig)

    def _heartbeat(self, job: Job) -> None:
        # Several beats per lease, so one slow write never costs a live task its claim.
        interval = min(HEARTBEAT_S, self.settings.worker_lease_s / 3)
        while not job.done.wait(interval):
            try:
                with self.db.write(concurrent=True) as session:
                    beat = machine.heartbeat(
                        session,
                        task_id=job.task_id,
                        worker_id=self.worker_id,
                        progress=job.progress,
                        rate=None if job.rate is None else (job.rate.fps, job.rate.speed),
                    )
                    self.hooks.refresh(session)  # rules another process changed meanwhile
            except Exception:
                log.exception("task %s: heartbeat failed", job.task_id)
                continue
            if beat == "cancelled":
                job.cancelled.set()
            elif beat == "lost":
                job.lost.set()


def _remove(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
