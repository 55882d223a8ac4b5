"""Nonce replay: refused within the skew window, accepted after it, bounded in memory, and
shared through the nonces table by every node on one database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from emulator.db.engine import Database
from emulator.db.models import Nonce
from emulator.services import nonces
from emulator.services.nonces import NonceCache, SharedNonces
from tests.db.generated import BACKENDS, database


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_replay_within_the_window_is_refused() -> None:
    cache = NonceCache(window_s=900, clock=Clock())
    assert cache.check_and_add("n-1")
    assert not cache.check_and_add("n-1")
    assert cache.check_and_add("n-2")


def test_a_nonce_is_accepted_again_once_the_window_has_passed() -> None:
    clock = Clock()
    cache = NonceCache(window_s=900, clock=clock)
    assert cache.check_and_add("n-1")
    clock.now += 899.9
    assert not cache.check_and_add("n-1")
    clock.now += 900.1
    assert cache.check_and_add("n-1")


def test_the_cache_stays_at_its_bound_under_a_flood() -> None:
    clock = Clock()
    cache = NonceCache(window_s=900, maxsize=1000, clock=clock)
    for i in range(5000):
        clock.now += 0.001
        assert cache.check_and_add(f"flood-{i}")
        assert len(cache) <= 1000
    assert len(cache) == 1000
    assert not cache.check_and_add("flood-4999")  # the newest are kept
    assert cache.check_and_add("flood-0")  # the oldest went first


def test_the_default_bound_is_the_documented_one() -> None:
    assert nonces.MAX_ENTRIES == 100_000


def test_clear_forgets_every_nonce() -> None:
    cache = NonceCache(window_s=900, clock=Clock())
    cache.check_and_add("n-1")
    cache.clear()
    assert len(cache) == 0 and cache.check_and_add("n-1")


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with database(request.param, tmp_path) as migrated:
        yield migrated


def test_a_nonce_seen_by_one_node_is_refused_by_another(db: Database) -> None:
    clock = Clock(now=1_800_000_000.0)
    first = SharedNonces(db, window_s=900, clock=clock)
    second = SharedNonces(db, window_s=900, clock=clock)
    assert first.check_and_add("n-1")
    assert not second.check_and_add("n-1")
    assert not first.check_and_add("n-1")
    assert second.check_and_add("n-2") and not first.check_and_add("n-2")


def test_a_long_nonce_is_stored_as_its_digest_and_still_refused(db: Database) -> None:
    first, second = (SharedNonces(db, window_s=900) for _ in range(2))
    long = "x" * 500
    assert first.check_and_add(long) and not second.check_and_add(long)
    with db.read() as session:
        (stored,) = session.execute(select(Nonce.nonce)).scalars().all()
    assert stored.startswith("sha256:") and len(stored) <= nonces.MAX_STORED_CHARS


def test_a_shared_nonce_is_fresh_again_after_the_window_and_old_rows_are_pruned(
    db: Database,
) -> None:
    clock = Clock(now=1_800_000_000.0)
    node = SharedNonces(db, window_s=900, clock=clock)
    assert node.check_and_add("old")
    clock.now += 901
    assert node.check_and_add("old")  # the expired row is taken over
    clock.now += nonces.PRUNE_EVERY_S + 901
    assert node.check_and_add("new")  # and this check prunes what left the window
    with db.read() as session:
        left = session.execute(select(Nonce.nonce)).scalars().all()
    assert left == ["new"]
