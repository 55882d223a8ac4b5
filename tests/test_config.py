"""Settings defaults that follow the machine."""

from __future__ import annotations

import os

import pytest

from emulator.config import Settings


def test_worker_slots_follow_the_cpus_this_process_may_use() -> None:
    assert Settings().worker_concurrency == max(1, min(len(os.sched_getaffinity(0)), 64))


def test_the_environment_still_sets_the_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMULATOR_WORKER_CONCURRENCY", "3")
    assert Settings().worker_concurrency == 3
