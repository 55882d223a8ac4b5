"""Stage timings on the dashboard, from the real-clock stamps of each transition."""

from __future__ import annotations

from emulator.control.ui import stage_timings


def test_a_finished_task_has_one_timing_per_stage() -> None:
    times = {
        "pending": 10.0,
        "downloading": 11.0,
        "running": 11.5,
        "uploading": 14.0,
        "success": 14.25,
    }
    assert stage_timings(times, "success", now=99.0) == [
        {"stage": "pending", "seconds": 1.0, "ongoing": False},
        {"stage": "downloading", "seconds": 0.5, "ongoing": False},
        {"stage": "running", "seconds": 2.5, "ongoing": False},
        {"stage": "uploading", "seconds": 0.25, "ongoing": False},
    ]


def test_the_current_stage_counts_up_to_now() -> None:
    times = {"pending": 10.0, "downloading": 11.0}
    assert stage_timings(times, "downloading", now=13.0)[-1] == {
        "stage": "downloading",
        "seconds": 2.0,
        "ongoing": True,
    }


def test_a_task_that_failed_while_pending_has_only_its_wait() -> None:
    times = {"pending": 10.0, "fail": 12.0}
    assert stage_timings(times, "fail", now=50.0) == [
        {"stage": "pending", "seconds": 2.0, "ongoing": False}
    ]
