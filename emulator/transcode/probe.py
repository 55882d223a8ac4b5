"""Measure a media file: duration, size, bitrates and codecs (inputs and outputs).

probe() and avc_codecs() ask the process-wide prober.Prober (one helper process with FFmpeg's
libraries loaded). Probing is the older ffprobe-per-probe design, gated on a FIFO, kept until
the worker stops using it. MediaInfo and the rules live in media_info.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode import prober
from emulator.transcode.media_info import (
    MediaInfo,
    failure,
    mpd_segments,
    playlist_segments,
)
from emulator.transcode.media_info import media_info as _media_info
from emulator.transcode.prober import PROBE_TIMEOUT_S

__all__ = [
    "PROBE_TIMEOUT_S",
    "MediaInfo",
    "Probing",
    "avc_codecs",
    "mpd_segments",
    "playlist_segments",
    "probe",
]

# util-linux's setpriv (Linux; Debian always has it) makes the kernel kill a gated ffprobe when
# the thread that started it ends. Without it, Probing's gate waits to start ffprobe instead.
_LIFELINE = ("setpriv", "--pdeathsig", "KILL", "--") if shutil.which("setpriv") else ()


def probe(path: Path, *, formats: str | None = None) -> MediaInfo:
    """Probe `path` (a media file or a local HLS playlist); TaskFailed 2002 unless it is a video.

    `formats` limits the demuxers FFmpeg may use (demuxers.INPUT_FORMATS for a task's input).
    """
    return prober.shared().probe(path, formats=formats)


def avc_codecs(path: Path) -> str:
    """RFC 6381 CODECS of the first video stream if it is H.264 (`avc1.PPCCLL`), else ""."""
    return prober.shared().avc_codecs(path)


class Probing:
    """probe() whose ffprobe starts now and is collected later.

    ffprobe spends ~60 ms loading its libraries before it reads anything (this machine's
    ffmpeg links ~215 of them and binds every symbol at load). Work the caller does meanwhile
    costs no extra time. With `gate_dir`, the file need not be complete yet: ffprobe loads its
    libraries, then waits until release() before it opens `path` (see _spawn). Use it as a
    context manager, so the process never outlives its owner.
    """

    def __init__(
        self, path: Path, *, gate_dir: Path | None = None, formats: str | None = None
    ) -> None:
        self.path = path
        self._formats = formats
        self._deadline = monotonic() + PROBE_TIMEOUT_S
        self._gate: Path | None = None
        self._report: int | None = None  # our end of the gate, once released
        self._info: MediaInfo | None = None
        self._closed = False
        self._process: subprocess.Popen[str] | None = None
        if gate_dir is None:
            self._process = _spawn(path, formats=formats)
        elif _LIFELINE:  # else ffprobe starts at release(), as it would without a gate
            self._gate = gate_dir / f"probe-{uuid.uuid4().hex[:12]}.json"
            os.mkfifo(self._gate, 0o600)
            # A gated ffprobe whose owner died would wait for its gate forever: killed instead.
            self._process = _spawn(path, report_to=self._gate, prefix=_LIFELINE, formats=formats)

    def release(self) -> None:
        """`path` is complete: let a gated ffprobe read it (the time limit starts now)."""
        if self._process is None:
            self._deadline = monotonic() + PROBE_TIMEOUT_S
            self._process = _spawn(self.path, formats=self._formats)
        elif self._gate is not None and self._report is None:
            self._deadline = monotonic() + PROBE_TIMEOUT_S
            # Opening the reading end unblocks ffprobe's open of its report (-o): non-blocking,
            # so this returns even if ffprobe has not got that far, or has died.
            self._report = os.open(self._gate, os.O_RDONLY | os.O_NONBLOCK)

    def result(self) -> MediaInfo:
        """What probe() returns (TaskFailed 2002 the same way); waits for ffprobe once."""
        if self._info is None:
            self.release()
            assert self._process is not None
            report = None
            if self._report is not None:
                report = _read_gate(self._report, self._process, self._deadline)
                if _killed(self._process, self._deadline):
                    # Killed while it waited (it had not read the file yet): not the file's
                    # fault, so a fresh ffprobe measures it instead.
                    _reap(self._process)
                    self._process, report = _spawn(self.path, formats=self._formats), None
            timeout = max(0.0, self._deadline - monotonic())
            self._info = _media_info(self.path, _collect(self._process, timeout, report))
        return self._info

    @property
    def waiting(self) -> bool:
        """Not released yet, and any ffprobe already started is alive (a killed one is not)."""
        alive = self._process is None or self._process.poll() is None
        return self._report is None and not self._closed and alive

    def close(self) -> None:
        """Stop ffprobe if it still runs, and remove the gate; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._process is not None:
            _reap(self._process)
        if self._report is not None:
            os.close(self._report)
        if self._gate is not None:
            self._gate.unlink(missing_ok=True)

    def __enter__(self) -> Probing:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _read_gate(fd: int, process: subprocess.Popen[str], deadline: float) -> str:
    """Everything a gated ffprobe writes to its report, until it closes it or exits."""
    chunks = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while monotonic() < deadline:
        # Readable: data, or end of file once ffprobe has opened and closed its end. Before
        # ffprobe opens it, the FIFO reports nothing: the short wait then checks on ffprobe.
        if poller.poll(50):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            with contextlib.suppress(BlockingIOError):
                chunks.append(os.read(fd, 1 << 20))
            break
    return b"".join(chunks).decode(errors="replace")


def _killed(process: subprocess.Popen[str], deadline: float) -> bool:
    """Whether the process ended by a signal (it is waited for until `deadline`)."""
    try:
        process.wait(timeout=max(0.0, deadline - monotonic()))
    except subprocess.TimeoutExpired:
        return False
    return process.returncode < 0


def _spawn(
    path: Path,
    what: list[str] | None = None,
    *,
    report_to: Path | None = None,
    prefix: tuple[str, ...] = (),
    formats: str | None = None,
) -> subprocess.Popen[str]:
    args = [*prefix, "ffprobe", "-v", "error", "-print_format", "json"]
    args += what if what is not None else ["-show_format", "-show_streams"]
    if report_to is not None:
        # ffprobe opens its report (a FIFO) before the input: the open blocks until a reader
        # comes, which is how Probing holds a loaded ffprobe back until the file is complete.
        args += ["-o", str(report_to)]
    if path.suffix.lower() in (".m3u8", ".mpd"):
        # Segments of a local playlist are local files; refuse anything that would go online.
        args += ["-protocol_whitelist", "file,crypto"]
    if formats is not None:
        args += ["-format_whitelist", formats]
    return subprocess.Popen(
        [*args, str(path.resolve())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )


def _reap(process: subprocess.Popen[str]) -> None:
    """Kill ffprobe if it still runs, and wait for it: no process outlives its probe."""
    if process.poll() is None:
        process.kill()
    process.communicate()


def _collect(
    process: subprocess.Popen[str], timeout_s: float, gated_report: str | None = None
) -> dict[str, Any]:
    """ffprobe's JSON report (its stdout, or what it wrote to its gate); TaskFailed 2002 when
    it fails or runs out of time."""
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
        stdout = stdout if gated_report is None else gated_report
    except subprocess.TimeoutExpired:
        raise TaskFailed(
            INPUT_NOT_VIDEO,
            f"input is not a decodable video: ffprobe took over {PROBE_TIMEOUT_S:g} s",
        ) from None
    if process.returncode != 0:
        raise failure(stderr)
    report: dict[str, Any] = json.loads(stdout or "{}")
    return report
