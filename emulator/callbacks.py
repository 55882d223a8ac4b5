"""Task callbacks: when a task whose storage has `notify` ends, POST its result there, retrying.

    worker, final transition --enqueue()--> callback_deliveries row (same transaction)
    Deliverer thread: claim due rows (lease) -> POST on a small pool -> record the attempt
        2xx: delivered | else: retry after RETRY_DELAYS_S[n] | MAX_ATTEMPTS reached: failed
    Idle, it reads (never writes) when the next row is due, and sleeps until then or POLL_S;
    a task that ends in this process wakes it at once (wake()), so POLL_S only bounds how late
    a callback of a task run by a separate `worker` process goes out.
    POST .../callbacks/{id}/redeliver: one more attempt now, appended to the same history

Rows are the queue, so deliveries survive a restart; the worker only inserts a row.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select
from tenacity import RetryCallState, wait_chain, wait_fixed

from emulator import __version__
from emulator.db.engine import Database
from emulator.db.models import CallbackDelivery, Task
from emulator.db.tasks import FINAL
from emulator.errors import EmptyResult
from emulator.netguard import NetGuard, Refused, tls_context
from emulator.v1.views import callback_item

if TYPE_CHECKING:  # imported on first use: httpx pulls in its CLI's modules (docs/performance.md)
    import httpx

log = logging.getLogger("emulator.callbacks")

# Wait after the 1st, 2nd, ... failed attempt; the attempt after the last wait is the last one.
RETRY_DELAYS_S = (1, 2, 5, 10, 30, 60, 120)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
# The schedule as a retry policy. The rows are the queue (a restart must not forget a retry),
# so the policy only says when; the deliverer's poll sends what is due.
BACKOFF = wait_chain(*(wait_fixed(seconds) for seconds in RETRY_DELAYS_S))
TIMEOUT_S = 5.0
# An attempt in flight pushes its row this far ahead, so only one sender takes it.
LEASE_S = TIMEOUT_S + 5
POLL_S = 1.0
SENDERS = 4
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def enqueue(session: Session, task: Task) -> CallbackDelivery | None:
    """Queue the callback of a task that just ended, if its storage has `notify`."""
    url = str(task.storage.get("notify") or "")
    if not url or task.status not in FINAL:
        return None
    item = callback_item(task)
    now = time.time()
    delivery = CallbackDelivery(
        task_id=task.task_id,
        url=url,
        payload={"code": 0, "msg": item["status"], "callback_url": url, "data": [item]},
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    return delivery


def for_task(session: Session, task_id: str) -> Sequence[CallbackDelivery]:
    return session.exec(
        select(CallbackDelivery)
        .where(CallbackDelivery.task_id == task_id)
        .order_by(col(CallbackDelivery.id))
    ).all()


def clear(session: Session) -> None:
    """Forget every delivery (reset of tasks)."""
    session.execute(delete(CallbackDelivery))


def claim_due(session: Session, *, now: float, limit: int) -> list[CallbackDelivery]:
    """Pending deliveries whose time has come, leased to the caller (write transaction)."""
    rows = session.exec(
        select(CallbackDelivery)
        .where(CallbackDelivery.status == PENDING, CallbackDelivery.next_attempt_at <= now)
        .order_by(col(CallbackDelivery.next_attempt_at), col(CallbackDelivery.id))
        .limit(limit)
    ).all()
    for row in rows:
        row.next_attempt_at = now + LEASE_S
        session.add(row)
    return list(rows)


def record(session: Session, *, delivery_id: int, attempt: dict[str, Any], ok: bool) -> None:
    """Store one attempt's outcome and decide what comes next."""
    row = session.get(CallbackDelivery, delivery_id)
    if row is None or row.status != PENDING:  # reset meanwhile
        return
    row.attempts += 1
    row.history = [*row.history, attempt]
    if ok or row.attempts >= MAX_ATTEMPTS:
        row.status = DELIVERED if ok else FAILED
        row.finished_at = attempt["time"]
    else:
        row.next_attempt_at = attempt["time"] + backoff_s(row.attempts)
    session.add(row)


def backoff_s(failed_attempts: int) -> float:
    """Seconds to wait after `failed_attempts` failures before the next attempt."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = failed_attempts
    return float(BACKOFF(state))


def next_due(session: Session) -> float | None:
    """When the earliest pending delivery is due (a read), or None when none is pending."""
    due: float | None = session.exec(
        select(func.min(CallbackDelivery.next_attempt_at)).where(CallbackDelivery.status == PENDING)
    ).one()
    return due


def post(
    client: httpx.Client, delivery: CallbackDelivery, *, guard: NetGuard, number: int | None = None
) -> tuple[dict[str, Any], bool]:
    """One attempt: ({time, status_code, latency_ms, error}, delivered?).

    Sent to the address `guard` checked, with the URL's Host and TLS server name; `number`
    (X-Emulator-Attempt) defaults to the next scheduled attempt.
    """
    import httpx

    started, clock = time.time(), time.monotonic()
    status_code: int | None = None
    try:
        pinned = guard.pin(httpx.URL(delivery.url))
        with contextlib.ExitStack() as stack:
            sender = client
            if pinned.url.scheme == "https":
                # The shared pool is keyed by address: a TLS connection verified for another
                # name on the same address must not carry this one, so https gets its own.
                sender = stack.enter_context(httpx.Client(timeout=TIMEOUT_S, verify=tls_context()))
            response = sender.post(
                pinned.url,
                content=json.dumps(delivery.payload, ensure_ascii=False).encode(),
                headers={
                    **pinned.headers,
                    "Content-Type": "application/json",
                    "User-Agent": f"transcode-emulator/{__version__}",
                    "X-Emulator-Delivery-Id": str(delivery.id),
                    "X-Emulator-Attempt": str(number or delivery.attempts + 1),
                },
                extensions=pinned.extensions,
            )
        status_code = response.status_code
        error = "" if response.is_success else f"HTTP {status_code}"
    except Refused as exc:
        error = str(exc)
    except httpx.InvalidURL as exc:
        error = f"InvalidURL: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    attempt = {
        "time": started,
        "status_code": status_code,
        "latency_ms": round((time.monotonic() - clock) * 1000, 1),
        "error": error,
    }
    return attempt, not error


def record_redelivery(
    session: Session, *, delivery_id: int, attempt: dict[str, Any], ok: bool
) -> CallbackDelivery | None:
    """Append a redelivery to the log (marked, not counted against MAX_ATTEMPTS).

    A success settles the delivery (pending|failed -> delivered); a failure changes nothing
    else: a pending delivery keeps its schedule, a delivered one stays delivered.
    """
    row = session.get(CallbackDelivery, delivery_id)
    if row is None:  # reset meanwhile
        return None
    row.history = [*row.history, {**attempt, "redelivery": True}]
    if ok and row.status != DELIVERED:
        row.status = DELIVERED
        row.finished_at = attempt["time"]
    session.add(row)
    return row


class Deliverer:
    """The delivery thread: polls the table and sends on a small pool, never in the worker."""

    def __init__(
        self,
        *,
        db: Database,
        poll_s: float = POLL_S,
        senders: int = SENDERS,
        guard: NetGuard | None = None,
    ) -> None:
        self.db = db
        self.guard = guard or NetGuard()
        self.poll_s = poll_s
        self.senders = senders
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._in_flight = threading.Semaphore(senders)

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="callback")
        self._thread = threading.Thread(target=self._loop, name="callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming; attempts in flight finish (each within TIMEOUT_S) and are recorded."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=LEASE_S)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()

    def wake(self) -> None:
        """A task ended in this process: look for its delivery now, not at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        pause = 0.0
        while not self._stop.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            pause = self.poll_s
            try:
                # On SQLite a view that only re-reads after some connection committed.
                due = self.db.read_view(("callbacks", "next_due"), next_due)
                if due is not None and due <= time.time():
                    self.send_due()
                elif due is not None:
                    pause = min(self.poll_s, due - time.time())
            except Exception:
                log.exception("sending callbacks failed; trying again in %.1f s", self.poll_s)

    def send_due(self) -> int:
        free = 0
        while self._in_flight.acquire(blocking=False):
            free += 1
        due: list[CallbackDelivery] = []
        try:
            with self.db.write() as session:
                due = claim_due(session, now=time.time(), limit=free) if free else []
        finally:
            for _ in range(free - len(due)):
                self._in_flight.release()
        assert self._pool is not None
        for delivery in due:
            self._pool.submit(self._send, delivery)
        return len(due)

    def _send(self, delivery: CallbackDelivery) -> None:
        try:
            assert delivery.id is not None
            attempt, ok = post(self._http(), delivery, guard=self.guard)
            if not ok:
                log.info("callback %s for task %s: %s", delivery.id, delivery.task_id, attempt)
            with self.db.write() as session:
                record(session, delivery_id=delivery.id, attempt=attempt, ok=ok)
        except Exception:
            log.exception("callback %s for task %s failed", delivery.id, delivery.task_id)
        finally:
            self._in_flight.release()

    def redeliver(self, *, task_id: str, delivery_id: int) -> CallbackDelivery:
        """Send a delivery of the log again, now, whatever its status; recorded in its history."""
        with self.db.read() as session:
            delivery = session.get(CallbackDelivery, delivery_id)
        if delivery is None or delivery.task_id != task_id:
            raise EmptyResult(f"task {task_id!r} has no callback delivery {delivery_id}")
        attempt, ok = post(
            self._http(), delivery, guard=self.guard, number=len(delivery.history) + 1
        )
        with self.db.write() as session:
            row = record_redelivery(session, delivery_id=delivery_id, attempt=attempt, ok=ok)
        if row is None:
            raise EmptyResult(f"task {task_id!r} has no callback delivery {delivery_id}")
        return row

    def _http(self) -> httpx.Client:
        """Made for the first delivery: start-up need not wait for the CA bundle to load."""
        import httpx

        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=TIMEOUT_S, follow_redirects=False, verify=tls_context()
                )
            return self._client
