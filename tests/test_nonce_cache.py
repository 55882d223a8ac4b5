"""The in-memory nonce cache: replays refused within the window, bounded in time and size."""

from __future__ import annotations

import time

import pytest

from emulator import auth
from emulator.auth import NonceCache


def test_a_nonce_is_refused_again_within_the_window_and_accepted_after() -> None:
    cache = NonceCache(window_s=0.3)
    assert cache.check_and_add("n-1")
    assert not cache.check_and_add("n-1")
    assert cache.check_and_add("n-2")
    deadline = time.monotonic() + 5
    while not cache.check_and_add("n-1"):  # forgotten once its second left the window
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_at_the_cap_the_oldest_seconds_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "NONCE_CACHE_MAX", 4)
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    cache = NonceCache(window_s=900)
    for second, nonce in enumerate(["a", "b", "c", "d"]):
        clock[0] = 1000.0 + second
        assert cache.check_and_add(nonce)
    clock[0] = 1004.0
    assert cache.check_and_add("e")  # at the cap: second 1000 ("a") is forgotten
    assert cache.check_and_add("a")
    assert not cache.check_and_add("e") and not cache.check_and_add("d")
