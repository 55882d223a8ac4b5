"""run_ffmpeg(): progress, cancel, time limit and failures, on real ffmpeg processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.errors import TIME_LIMIT, TRANSCODE_FAILED, TaskCancelled, TaskFailed
from emulator.transcode.clips import make_clip
from emulator.transcode.runner import FfmpegFailed, Rate, run_ffmpeg
from tests.processes import command_lines

QUIET = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
PROGRESS = ["-progress", "pipe:1", "-nostats"]


def realtime_encode(seconds: float, output: Path) -> list[str]:
    """An encode that takes `seconds` of wall time: -re reads the lavfi source at its rate."""
    source = ["-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15", "-t", f"{seconds:g}"]
    return [*QUIET, *source, "-c:v", "libx264", "-preset", "ultrafast", str(output)]


class CancelAfter:
    """A should_cancel that turns true `seconds` from now and remembers when it first did."""

    def __init__(self, seconds: float) -> None:
        self.due = time.monotonic() + seconds
        self.fired_at: float | None = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.due:
            return False
        self.fired_at = self.fired_at or now
        return True


def running_with(marker: Path) -> bool:
    """Whether any process on this machine has `marker` in its command line."""
    return any(str(marker).encode() in b"\0".join(argv) for argv in command_lines().values())


def test_progress_is_non_decreasing_and_reaches_100(tmp_path: Path) -> None:
    seen: list[float] = []

    result = run_ffmpeg(
        [*realtime_encode(2, tmp_path / "out.mp4"), *PROGRESS],
        duration_s=2,
        on_progress=seen.append,
        poll_interval_s=0.1,
    )

    assert result.returncode == 0
    assert result.elapsed_s >= 1.5
    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert all(0 <= percent <= 100 for percent in seen)
    assert seen[-1] == 100
    assert 0 < seen[-2] < 100  # real intermediate reports, not just the final one


def test_cancel_stops_ffmpeg_within_a_second(tmp_path: Path) -> None:
    # No -progress: ffmpeg prints nothing, and the loop must still look at should_cancel.
    output = tmp_path / "cancelled.mp4"
    should_cancel = CancelAfter(0.5)

    with pytest.raises(TaskCancelled):
        run_ffmpeg(
            realtime_encode(30, output),
            duration_s=30,
            should_cancel=should_cancel,
            poll_interval_s=0.1,
        )

    assert should_cancel.fired_at is not None
    assert time.monotonic() - should_cancel.fired_at < 1.0
    assert not running_with(output)


def test_time_limit_fails_the_task_with_2006(tmp_path: Path) -> None:
    output = tmp_path / "slow.mp4"
    started = time.monotonic()

    with pytest.raises(TaskFailed) as caught:
        run_ffmpeg(realtime_encode(30, output), duration_s=30, timeout_s=0.5, poll_interval_s=0.1)

    assert caught.value.err_code == TIME_LIMIT
    assert caught.value.message == "task ran past its time limit of 0.5 s"
    assert time.monotonic() - started < 2.0
    assert not running_with(output)


def test_corrupt_input_raises_ffmpeg_failed_with_stderr_tail(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # moov atom cut off

    with pytest.raises(FfmpegFailed) as caught:
        run_ffmpeg([*QUIET, "-i", str(corrupt), "-f", "null", "-"], duration_s=1)

    failure = caught.value
    assert failure.err_code == TRANSCODE_FAILED
    assert isinstance(failure, TaskFailed)
    assert failure.message.startswith("ffmpeg failed: ")
    assert "moov atom not found" in failure.message
    assert " @ 0x" not in failure.message
    assert "Invalid data found when processing input" in failure.stderr_tail
    assert failure.returncode != 0


def test_success_without_progress_stream_still_reports_100(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4")
    seen: list[float] = []

    result = run_ffmpeg(
        [*QUIET, "-i", str(clip), "-f", "null", "-"], duration_s=1, on_progress=seen.append
    )

    assert result.returncode == 0
    assert result.stderr_tail == ""
    assert seen == [100.0]


def test_on_started_runs_once_ffmpeg_is_spawned(tmp_path: Path) -> None:
    calls: list[str] = []

    result = run_ffmpeg(
        realtime_encode(1, tmp_path / "started.mp4"),
        duration_s=1,
        on_started=lambda: calls.append("started"),
    )

    assert (result.returncode, calls) == (0, ["started"])


def test_a_failing_on_started_leaves_no_ffmpeg_behind(tmp_path: Path) -> None:
    output = tmp_path / "never-finished.mp4"

    def refuse() -> None:
        raise RuntimeError("bookkeeping failed")

    with pytest.raises(RuntimeError, match="bookkeeping failed"):
        run_ffmpeg(realtime_encode(30, output), duration_s=30, on_started=refuse)

    assert not running_with(output)


def test_on_rate_gets_ffmpeg_fps_and_speed(tmp_path: Path) -> None:
    rates: list[Rate] = []

    run_ffmpeg(
        [*realtime_encode(2, tmp_path / "rate.mp4"), *PROGRESS],
        duration_s=2,
        on_progress=lambda _percent: None,
        on_rate=rates.append,
        poll_interval_s=0.1,
    )

    assert rates, "no rate reported while ffmpeg ran"
    # -re reads the input at its native rate: about 1x real time, at the clip's 15 fps.
    assert all(0.3 < rate.speed < 3 for rate in rates)
    assert any(rate.fps > 0 for rate in rates)
