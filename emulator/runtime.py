"""Start and stop what the emulator runs besides HTTP: database, object store, workers."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from sqlmodel import col, select

from emulator.context import Context
from emulator.db.engine import migrate
from emulator.db.models import AccessKey
from emulator.services.reset import reset_database

log = logging.getLogger("emulator")


class Runtime:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def start(self) -> None:
        settings = self.ctx.settings
        prepare_data_dir(settings.data_dir)
        migrate(self.ctx.db, lock_dir=settings.data_dir)
        self._sync_configured_key()
        self.ctx.ready = True

    def stop(self) -> None:
        self.ctx.ready = False
        self.ctx.db.dispose()

    def reset(self, parts: list[str]) -> None:
        """Stop running work, then clear the database parts and objects (POST /_emulator/reset)."""
        with self.ctx.db.write() as session:
            reset_database(session=session, parts=parts)
        self.ctx.nonces.clear()

    def health(self) -> dict[str, Any]:
        return {}

    def _sync_configured_key(self) -> None:
        """The configured pair always works; it replaces the previous configured one."""
        settings = self.ctx.settings
        with self.ctx.db.write() as session:
            for old in session.exec(select(AccessKey).where(col(AccessKey.configured))):
                if old.access_key_id != settings.access_key_id:
                    session.delete(old)
            key = session.get(AccessKey, settings.access_key_id)
            if key is None:
                key = AccessKey(
                    access_key_id=settings.access_key_id,
                    access_key_secret=settings.access_key_secret,
                    created_at=time.time(),
                    configured=True,
                )
            key.access_key_secret = settings.access_key_secret
            key.configured = True
            key.enabled = True
            session.add(key)
        self.ctx.keys.forget()


def prepare_data_dir(path: os.PathLike[str] | str) -> None:
    """The data dir holds secrets (keys, storage credentials): owner-only."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
