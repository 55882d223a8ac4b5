"""Prober: one long-lived probe helper process (probe_helper.py) on a pipe, restarted if it dies.

A fresh ffprobe spends ~60 ms loading FFmpeg's libraries before it reads a byte; the helper
loads them (through PyAV) once and then answers each probe in a few milliseconds. It is a
separate process, not PyAV in the emulator's own, so that a hostile file which crashes, hangs or
exhausts FFmpeg fails only its own probe (TaskFailed 2002): the helper is killed and a fresh one
answers the next probe. The helper never outlives its owner: it exits when its stdin closes,
and checks that its parent is alive while FFmpeg is busy.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from time import monotonic
from typing import IO, Any

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode import demuxers
from emulator.transcode.media_info import MediaInfo, avc_codecs, failure, media_info
from emulator.transcode.runner import limit_memory

PROBE_TIMEOUT_S = 60.0
# How long a (re)started helper may take to import PyAV and take a request; not the file's time.
START_TIMEOUT_S = 30.0

_HELPER = [sys.executable, "-m", "emulator.transcode.probe_helper"]
_NOT_A_VIDEO = "input is not a decodable video"


class ProberUnavailable(RuntimeError):
    """The helper cannot start, or dies before it takes any request: not the file's fault."""


class Prober:
    """Probes files in one helper process, one request at a time (thread-safe).

    Cheap to construct: the helper starts at start() or at the first probe. close() (or the
    end of a `with` block) kills and reaps it. `memory_limit_mb` caps the helper's address
    space as ffmpeg's is capped (0: no limit); the helper itself needs ~300 MB.
    """

    def __init__(self, *, memory_limit_mb: int = 0) -> None:
        self._memory_limit_mb = memory_limit_mb  # as ffmpeg's (EMULATOR_FFMPEG_MEMORY_MB); 0: none
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._pending = b""  # bytes read past the last reply line
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The helper's process id while it runs, else None."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the helper now (it loads PyAV meanwhile); returns without waiting for it."""
        with self._lock:
            self._running()

    def probe(
        self, path: Path, *, formats: str | None = None, timeout_s: float = PROBE_TIMEOUT_S
    ) -> MediaInfo:
        """Probe `path` (a media file or a local HLS/DASH manifest); TaskFailed 2002 unless it
        is a video, or when the helper crashes or takes over `timeout_s` on it.

        `formats` limits the demuxers FFmpeg may use (demuxers.INPUT_FORMATS for a task's input).
        """
        return media_info(path, self._ask("probe", path, formats, timeout_s))

    def avc_codecs(self, path: Path, *, timeout_s: float = PROBE_TIMEOUT_S) -> str:
        """RFC 6381 CODECS of the first video stream if it is H.264 (`avc1.PPCCLL`), else ""."""
        found = self._ask("extradata", path, None, timeout_s)
        return avc_codecs(str(found["codec_name"]), bytes.fromhex(str(found["extradata"])))

    def close(self) -> None:
        """Kill and reap the helper, at once even during a probe (which then raises
        ProberUnavailable); calling it again does nothing."""
        self._closed = True
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()  # not under the lock: a probe may hold it for up to its timeout
        with self._lock:
            self._stop()

    def disown(self) -> None:
        """Forget the helper without stopping it (a forked child's copy: the parent owns it)."""
        self._process, self._stderr, self._closed = None, None, True

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _ask(self, op: str, path: Path, formats: str | None, timeout_s: float) -> dict[str, Any]:
        options = {}
        if path.suffix.lower() in (".m3u8", ".mpd"):
            # Segments of a local playlist are local files; refuse anything that would go online.
            options["protocol_whitelist"] = "file,crypto"
        if formats is not None:
            options["format_whitelist"] = formats
        request = json.dumps({"op": op, "path": str(path.resolve()), "options": options})
        with self._lock:
            if self._closed:
                raise ProberUnavailable("the prober is closed")
            reply = self._exchange(request.encode() + b"\n", timeout_s)
        if "stderr" in reply:
            stderr = str(reply["stderr"])
            if reply.get("out_of_memory"):
                limit = f"{self._memory_limit_mb} MB (EMULATOR_FFMPEG_MEMORY_MB)"
                raise TaskFailed(
                    INPUT_NOT_VIDEO, f"{_NOT_A_VIDEO}: probing ran out of memory under {limit}"
                )
            if op != "probe" or demuxers.refused(stderr):
                raise failure(stderr)
            # Anything else the helper's FFmpeg cannot open, ffprobe (the build the encode uses)
            # judges: its verdict and message are the ones the task would meet anyway.
            return _ffprobe(path, options, timeout_s)
        report: dict[str, Any] = reply["report"]
        return report

    def _exchange(self, request: bytes, timeout_s: float) -> dict[str, Any]:
        """Send one request and read its reply; a helper that dies before taking the request
        (killed while idle) is replaced and asked again, once."""
        for attempt in (1, 2):
            process = self._running()
            try:
                assert process.stdin is not None
                process.stdin.write(request)
                process.stdin.flush()
                start_s = max(timeout_s, START_TIMEOUT_S)
                ack = self._reply(process, monotonic() + start_s, f"{start_s:g} s to start")
            except (BrokenPipeError, _HelperGone):
                ack = None
            if ack is None:
                detail = self._stop()
                if attempt == 2:
                    raise ProberUnavailable(f"the probe helper did not start: {detail}")
                continue
            try:
                return self._reply(process, monotonic() + timeout_s, f"over {timeout_s:g} s")
            except _HelperGone as gone:
                self._stop()
                if self._closed:
                    raise ProberUnavailable("the prober was closed during the probe") from None
                raise TaskFailed(INPUT_NOT_VIDEO, f"{_NOT_A_VIDEO}: {gone}") from None
        raise AssertionError("unreachable")

    def _reply(
        self, process: subprocess.Popen[bytes], deadline: float, late: str
    ) -> dict[str, Any]:
        """The helper's next reply line; _HelperGone if it dies or the deadline passes."""
        assert process.stdout is not None
        fd = process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                left = deadline - monotonic()
                if left <= 0 or not selector.select(left):
                    raise _HelperGone(f"probing took {late}")
                chunk = os.read(fd, 65536)
                if not chunk:
                    process.wait()
                    raise _HelperGone(_death(process.returncode))
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        # The helper's stderr (a Python traceback if PyAV cannot load) goes to a file, read
        # only to explain a helper that would not start: a pipe nobody reads could fill up.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _stop)
        self._process = subprocess.Popen(
            _HELPER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        if self._memory_limit_mb:
            limit_memory(self._process.pid, self._memory_limit_mb)
        return self._process

    def _stop(self) -> str:
        """Kill and reap the helper if there is one; what it wrote on stderr, last line."""
        process, self._process, self._pending = self._process, None, b""
        detail = ""
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
            detail = _death(process.returncode)
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else detail
            self._stderr.close()
            self._stderr = None
        return detail


class _HelperGone(Exception):
    """The helper died or ran out of time during a request (the message says which)."""


def _ffprobe(path: Path, options: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """ffprobe's report on `path` with the same input options; TaskFailed 2002 if it fails."""
    args = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    for name, value in options.items():
        args += [f"-{name}", value]
    try:
        done = subprocess.run(
            [*args, str(path.resolve())],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TaskFailed(
            INPUT_NOT_VIDEO, f"{_NOT_A_VIDEO}: probing took over {timeout_s:g} s"
        ) from None
    if done.returncode != 0:
        raise failure(done.stderr)
    report: dict[str, Any] = json.loads(done.stdout or "{}")
    return report


def _death(returncode: int) -> str:
    if returncode < 0:
        return f"the probe helper was killed by signal {-returncode}"
    return f"the probe helper exited with status {returncode}"


_shared: Prober | None = None
_shared_lock = threading.Lock()


def shared() -> Prober:
    """The process-wide Prober behind probe.probe(), started at first use, closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Prober()
            atexit.register(_shared.close)
        return _shared


def _forget_shared() -> None:
    # A forked child must not use its parent's helper (nor kill it at exit): it starts its own.
    global _shared
    if _shared is not None:
        _shared.disown()
    _shared = None


os.register_at_fork(after_in_child=_forget_shared)
