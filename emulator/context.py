"""The app's lifespan-managed objects, built once by create_app and reached through app.state."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emulator.auth import KeyRing, Verifier
from emulator.config import Settings, display_host
from emulator.db.engine import Database
from emulator.netguard import NetGuard
from emulator.services.changes import TaskChanges
from emulator.services.nonces import NonceCache

if TYPE_CHECKING:
    from emulator.services.faults import FaultWatch
    from emulator.services.requestlog import RequestLog
    from emulator.storage.store import ObjectStore


@dataclass
class Context:
    settings: Settings
    db: Database
    keys: KeyRing
    nonces: NonceCache
    verifier: Verifier
    objects: ObjectStore | None = None
    s3_endpoint: str | None = None
    # Set by Runtime: the control API's injected faults and the request log that requests
    # consult (api/deps, middleware); None until then, as in a bare create_app for the docs.
    faults: FaultWatch | None = None
    request_log: RequestLog | None = None
    ready: bool = False
    # Set when a task is created, so in-process workers claim it without waiting for a poll.
    wakeup: threading.Event = field(default_factory=threading.Event)
    # Set when holds or faults change here, so in-process workers re-read them (worker/hooks.py).
    rules_changed: threading.Event = field(default_factory=threading.Event)
    # Notified when an in-process worker moves a task, so long-polls answer without a poll.
    task_changes: TaskChanges = field(default_factory=TaskChanges)
    # Where inputs, logos and callbacks may connect; the worker and the deliverer share it.
    guard: NetGuard = field(default_factory=NetGuard)

    @classmethod
    def build(cls, settings: Settings) -> Context:
        db = Database(settings.sqlalchemy_url)
        keys = KeyRing(db)
        nonces = NonceCache(window_s=settings.date_skew_s)
        verifier = Verifier(
            keys=keys,
            nonces=nonces,
            skew_s=settings.date_skew_s,
            allow_legacy=settings.auth_schemes == "all",
        )
        guard = NetGuard(
            block_private=settings.block_private_networks == "on",
            own_bases=own_base_urls(settings),
            own_path=_always_allowed_path,
        )
        return cls(
            settings=settings, db=db, keys=keys, nonces=nonces, verifier=verifier, guard=guard
        )

    def wake_workers(self) -> None:
        self.wakeup.set()

    def stage_rules_changed(self) -> None:
        """Holds or faults changed: workers here re-read them at the next stage boundary."""
        self.rules_changed.set()
        self.wakeup.set()

    def presign(self, bucket: str, key: str) -> str:
        return self.objects.presign_get(bucket, key) if self.objects else ""


def own_base_urls(settings: Settings) -> tuple[str, ...]:
    """The URLs this emulator's API answers at: its public URL and the address it is bound to."""
    bound = f"http://{display_host(settings.host)}:{settings.port}"
    return tuple(dict.fromkeys([settings.api_base_url, bound]))


def _always_allowed_path(path: str) -> bool:
    """The emulator's own sample clips stay fetchable, and its callback inbox reachable, under
    EMULATOR_BLOCK_PRIVATE_NETWORKS=on."""
    # The control layer imports this module.
    from emulator.control.inbox import is_inbox_path
    from emulator.control.samples import is_sample_path

    return is_sample_path(path) or is_inbox_path(path)
