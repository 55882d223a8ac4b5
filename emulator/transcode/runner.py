"""Run one ffmpeg process: report progress, honour cancel and the time limit, always reap it."""

from __future__ import annotations

import collections
import contextlib
import re
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from emulator.errors import TIME_LIMIT, TRANSCODE_FAILED, TaskCancelled, TaskFailed

STDERR_TAIL_BYTES = 4096
TERMINATE_GRACE_S = 2.0
PROGRESS_INTERVAL_S = 0.45  # "about every 0.5 s" with the default poll interval

# ffmpeg prefixes component messages with "[name @ 0x55d1657b1800] "; the address is noise.
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+\]")
_NO_SPACE = "No space left on device"  # strerror(ENOSPC), as ffmpeg prints it
# How a failed allocation shows: strerror(ENOMEM), x264's and x265's (C++) own words.
_NO_MEMORY = ("Cannot allocate memory", "malloc of size", "bad_alloc", "Out of memory")
# ...or a death by a signal that a NULL from malloc leads to (not SIGKILL: someone killed it).
_MEMORY_SIGNALS = (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS)
# Lines that only say "something above went wrong".
_BOILERPLATE = ("Conversion failed!", "Last message repeated", "Error initializing output stream")


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stderr_tail: str
    elapsed_s: float


class FfmpegFailed(TaskFailed):
    """ffmpeg exited non-zero (err_code 2003); `stderr_tail` keeps its last ~4 KB of stderr."""

    def __init__(self, message: str, *, stderr_tail: str, returncode: int) -> None:
        super().__init__(TRANSCODE_FAILED, message)
        self.stderr_tail = stderr_tail
        self.returncode = returncode

    def __repr__(self) -> str:
        return f"FfmpegFailed(returncode={self.returncode}, message={self.message!r})"


@dataclass(frozen=True)
class Rate:
    """How fast ffmpeg encodes, as its `-progress` stream last said: frames per second of wall
    time, and output seconds per second of wall time (ffmpeg's "speed=1.5x")."""

    fps: float
    speed: float


class _Progress:
    """Reads ffmpeg's `-progress` stream on a thread: the latest output time in seconds, and
    the latest fps and speed (0 until ffmpeg gives a number; it writes N/A at first)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.out_time_s = 0.0
        self.fps = 0.0
        self.speed = 0.0
        self.ended = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            # ffmpeg 5.1 writes microseconds under both names (out_time_ms is a misnomer).
            if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
                self.out_time_s = max(self.out_time_s, int(value) / 1_000_000)
            elif key == "fps":
                self.fps = _number(value, self.fps)
            elif key == "speed":
                self.speed = _number(value.rstrip("x"), self.speed)
            elif key == "progress" and value == "end":
                self.ended = True

    def join(self) -> None:
        self._thread.join(timeout=TERMINATE_GRACE_S)


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first frames
        return default


class _Tail:
    """Keeps the last STDERR_TAIL_BYTES of a stream, read on a thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: stream.read(STDERR_TAIL_BYTES), b""):
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size - len(self._chunks[0]) >= STDERR_TAIL_BYTES:
                self._size -= len(self._chunks.popleft())

    def join(self) -> None:
        self._thread.join(timeout=TERMINATE_GRACE_S)

    @property
    def text(self) -> str:
        return b"".join(self._chunks)[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")


def run_ffmpeg(
    args: list[str],
    *,
    duration_s: float,
    on_progress: Callable[[float], None] | None = None,
    on_rate: Callable[[Rate], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    timeout_s: float | None = None,
    poll_interval_s: float = 0.5,
    on_started: Callable[[], None] | None = None,
    memory_limit_mb: int = 0,
) -> RunResult:
    """Run `args` (argv, with `-progress pipe:1` for progress) until it exits, is cancelled or
    runs out of time.

    on_started runs once ffmpeg is spawned (bookkeeping overlaps its ~60 ms of library loading).
    on_progress gets a non-decreasing percent (0-100) at most every 0.5 s and 100 at the end;
    on_rate gets ffmpeg's fps and speed with each percent once ffmpeg has given them.
    Raises TaskCancelled when should_cancel() turns true, TaskFailed 2006 past timeout_s,
    FfmpegFailed (2003) on a non-zero exit, saying so when ffmpeg ran out of the address space
    `memory_limit_mb` allows it (0: no limit). The process never outlives this call.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if memory_limit_mb:
        limit_memory(process.pid, memory_limit_mb)
    assert process.stdout is not None and process.stderr is not None
    progress, tail = _Progress(process.stdout), _Tail(process.stderr)
    reporter = _Reporter(on_progress, on_rate, duration_s)
    # A blocking waitpid on its own thread notices the exit at once; Popen.wait(timeout) polls
    # with sleeps of up to 50 ms.
    reaper = threading.Thread(target=process.wait, daemon=True)
    reaper.start()
    try:
        if on_started is not None:
            on_started()
        returncode = _wait(
            process, reaper, progress, reporter, should_cancel, timeout_s, poll_interval_s
        )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        # The pipes reach EOF once ffmpeg is gone; join before closing them under the readers.
        progress.join()
        tail.join()
        process.stdout.close()
        process.stderr.close()
    if returncode != 0:
        reason = _reason(tail.text, returncode)
        if memory_limit_mb and _out_of_memory(tail.text, returncode):
            reason = (
                f"out of memory under its limit of {memory_limit_mb} MB of address space "
                f"(EMULATOR_FFMPEG_MEMORY_MB): {reason}"
            )
        raise FfmpegFailed(
            f"ffmpeg failed: {reason}",
            stderr_tail=tail.text,
            returncode=returncode,
        )
    reporter.finish()
    return RunResult(returncode, tail.text, time.monotonic() - started)


def _wait(
    process: subprocess.Popen[bytes],
    reaper: threading.Thread,
    progress: _Progress,
    reporter: _Reporter,
    should_cancel: Callable[[], bool] | None,
    timeout_s: float | None,
    poll_interval_s: float,
) -> int:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        reaper.join(timeout=poll_interval_s)
        if not reaper.is_alive():
            assert process.returncode is not None
            return process.returncode
        reporter.report(progress)
        if should_cancel is not None and should_cancel():
            # The output is thrown away: no need to let ffmpeg flush (slow presets take seconds).
            process.kill()
            raise TaskCancelled("task deleted while ffmpeg was running")
        if deadline is not None and time.monotonic() > deadline:
            process.kill()
            raise TaskFailed(TIME_LIMIT, f"task ran past its time limit of {timeout_s:g} s")


class _Reporter:
    """Turns output time into throttled, non-decreasing percentages for on_progress."""

    def __init__(
        self,
        on_progress: Callable[[float], None] | None,
        on_rate: Callable[[Rate], None] | None,
        duration_s: float,
    ) -> None:
        self._on_progress = on_progress
        self._on_rate = on_rate
        self._duration_s = duration_s
        self._last_percent = -1.0
        self._last_call = float("-inf")

    def report(self, progress: _Progress) -> None:
        if self._on_progress is None or self._duration_s <= 0:
            return
        percent = min(100.0, max(0.0, 100.0 * progress.out_time_s / self._duration_s))
        now = time.monotonic()
        if percent > self._last_percent and now - self._last_call >= PROGRESS_INTERVAL_S:
            self._last_percent, self._last_call = percent, now
            self._on_progress(percent)
            if self._on_rate is not None and progress.speed > 0:
                self._on_rate(Rate(fps=progress.fps, speed=progress.speed))

    def finish(self) -> None:
        if self._on_progress is not None:
            self._on_progress(100.0)


def limit_memory(pid: int, megabytes: int) -> None:
    """Cap ffmpeg's (or the probe helper's) address space (RLIMIT_AS): past it its allocations
    fail and it exits.

    Set from outside once Popen returns, i.e. after exec, while ffmpeg is still loading its
    libraries (~60 ms) and long before it allocates frames. A preexec_fn would set it before
    exec, but the documentation calls it unsafe in a threaded process (the worker is one) and
    it stops subprocess from using vfork. prlimit() is Linux's; elsewhere there is no limit.
    """
    limit = megabytes * 1024 * 1024
    if hasattr(resource, "prlimit"):
        with contextlib.suppress(ProcessLookupError):  # exited already: nothing to limit
            resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


def _out_of_memory(stderr_tail: str, returncode: int) -> bool:
    return any(words in stderr_tail for words in _NO_MEMORY) or -returncode in _MEMORY_SIGNALS


def _reason(stderr_tail: str, returncode: int) -> str:
    if _NO_SPACE in stderr_tail:
        # ffmpeg says it on a line naming the temp file ("Error closing file /…/<task id>/x.mp4"):
        # the client needs the cause, not our paths.
        return "no space left on device while writing the output"
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith(_BOILERPLATE)]
    # A component's own complaint ("[libx264] height not divisible by 2") beats the summary.
    tagged = [line for line in meaningful if line.startswith("[")]
    if tagged or meaningful:
        return _ADDRESS.sub("]", (tagged or meaningful)[-1])
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit status {returncode} with nothing on stderr"
