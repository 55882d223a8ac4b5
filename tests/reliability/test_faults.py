"""Faults: kill -9 of `serve` at random moments during a stream of tasks, restarting each time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.crash import run_crash

pytestmark = pytest.mark.slow


def test_kill9_during_a_stream_of_tasks_loses_nothing(tmp_path: Path) -> None:
    report = run_crash(tmp_path, tasks=10, kills=2)
    assert report.kills == 2
    assert report.lost == []
    assert report.duplicated == []
    assert report.temp_files == []
