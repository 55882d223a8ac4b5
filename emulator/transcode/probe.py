"""Measure a media file with ffprobe: duration, size, bitrates and codecs (inputs and outputs).

Also lists the local files an HLS playlist (master or media) or a DASH MPD references.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from time import monotonic
from typing import Any

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode import demuxers

PROBE_TIMEOUT_S = 60.0

# Demuxers that report a "video" stream for things that are not videos: `tty` claims any
# long enough .txt file as ANSI art, image demuxers give one frame with no timeline.
_NOT_VIDEO_FORMATS = ("tty", "image2")

# util-linux's setpriv (Linux; Debian always has it) makes the kernel kill a gated ffprobe when
# the thread that started it ends. Without it, Probing's gate waits to start ffprobe instead.
_LIFELINE = ("setpriv", "--pdeathsig", "KILL", "--") if shutil.which("setpriv") else ()


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about one file; bitrates in kbit/s, 0 (or "") when unknown or absent."""

    duration: float
    width: int
    height: int
    bitrate_kbps: float
    video_bitrate_kbps: float
    audio_bitrate_kbps: float
    video_codec: str
    audio_codec: str
    framerate: float
    size: int
    has_audio: bool
    sample_rate: int
    channels: int
    format_name: str


def probe(path: Path, *, formats: str | None = None) -> MediaInfo:
    """Probe `path` (a media file or a local HLS playlist); TaskFailed 2002 unless it is a video.

    `formats` limits the demuxers ffprobe may use (demuxers.INPUT_FORMATS for a task's input).
    """
    with Probing(path, formats=formats) as probing:
        return probing.result()


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


def _media_info(path: Path, report: dict[str, Any]) -> MediaInfo:
    fmt: dict[str, Any] = report.get("format", {})
    streams: list[dict[str, Any]] = report.get("streams", [])
    format_name = str(fmt.get("format_name", ""))
    video = _first(streams, "video")
    if video is None:
        raise TaskFailed(INPUT_NOT_VIDEO, "input is not a decodable video: it has no video stream")
    if format_name in _NOT_VIDEO_FORMATS or format_name.endswith("_pipe"):
        raise TaskFailed(
            INPUT_NOT_VIDEO, f"input is not a decodable video: ffprobe reads it as {format_name}"
        )
    audio = _first(streams, "audio")
    duration = _number(fmt.get("duration")) or _number(video.get("duration"))
    if format_name in ("hls", "dash"):
        # The demuxers report the manifest's own size (and a bitrate derived from it).
        files = playlist_segments(path) if format_name == "hls" else mpd_segments(path)
        size = sum(p.stat().st_size for p in files if p.is_file() and p.suffix != ".m3u8")
        bitrate = 0.0
    else:
        size = int(_number(fmt.get("size")) or path.stat().st_size)
        bitrate = _number(fmt.get("bit_rate")) / 1000
    if not bitrate and duration > 0:
        bitrate = size * 8 / duration / 1000
    width, height = _display_size(video)
    return MediaInfo(
        duration=duration,
        width=width,
        height=height,
        bitrate_kbps=bitrate,
        video_bitrate_kbps=_number(video.get("bit_rate")) / 1000,
        audio_bitrate_kbps=_number(audio.get("bit_rate")) / 1000 if audio else 0.0,
        video_codec=str(video.get("codec_name", "")),
        audio_codec=str(audio.get("codec_name", "")) if audio else "",
        framerate=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        size=size,
        has_audio=audio is not None,
        sample_rate=int(_number(audio.get("sample_rate"))) if audio else 0,
        channels=int(_number(audio.get("channels"))) if audio else 0,
        format_name=format_name,
    )


def playlist_segments(playlist: Path) -> list[Path]:
    """The local files an HLS playlist references, resolved beside it.

    A media playlist: its init section (`#EXT-X-MAP`) and segments. A master playlist: each
    media playlist followed by its files. Absolute URLs (key servers) are not files.
    """
    text = playlist.read_text(encoding="utf-8", errors="replace")
    uris = []
    for line in (line.strip() for line in text.splitlines()):
        if line.startswith(("#EXT-X-MAP:", "#EXT-X-MEDIA:")):
            uris += _URI_ATTRIBUTE.findall(line)
        elif line and not line.startswith("#"):
            uris.append(line)
    files = []
    for uri in uris:
        if "://" in uri:
            continue
        path = playlist.parent / uri
        files.append(path)
        if path.suffix == ".m3u8" and "#EXT-X-STREAM-INF" in text and path.is_file():
            files += playlist_segments(path)
    return files


def avc_codecs(path: Path) -> str:
    """RFC 6381 CODECS of the first video stream if it is H.264 (`avc1.PPCCLL`), else ""."""
    args = ["-select_streams", "v:0", "-show_entries", "stream=codec_name,extradata"]
    streams: list[dict[str, Any]] = _ffprobe(path, [*args, "-show_data"]).get("streams", [])
    stream = streams[0] if streams else {}
    if stream.get("codec_name") != "h264":
        return ""
    dump = str(stream.get("extradata", ""))
    data = bytes.fromhex("".join(line[9:49].replace(" ", "") for line in dump.splitlines()))
    if data[:1] == b"\x01":  # avcC (mp4): version, profile, constraints, level
        return f"avc1.{data[1:4].hex()}"
    start = data.find(b"\x00\x00\x01\x67")  # Annex B (ts): the SPS NAL unit
    return f"avc1.{data[start + 4 : start + 7].hex()}" if start >= 0 else ""


def mpd_segments(mpd: Path) -> list[Path]:
    """The init and media segments a DASH MPD's SegmentTemplates name, resolved beside it."""
    root = ElementTree.parse(mpd).getroot()  # our own ffmpeg's output, not untrusted XML
    files: list[Path] = []
    for adaptation in root.iter(f"{_MPD_NS}AdaptationSet"):
        shared = adaptation.find(f"{_MPD_NS}SegmentTemplate")
        for representation in adaptation.iter(f"{_MPD_NS}Representation"):
            template = representation.find(f"{_MPD_NS}SegmentTemplate")
            template = template if template is not None else shared
            if template is None:
                continue
            values = {"RepresentationID": representation.get("id", ""), **representation.attrib}
            if init := template.get("initialization"):
                files.append(mpd.parent / _fill(init, values, 0, 0))
            number = int(template.get("startNumber", "1"))
            for time in _timeline(template):
                files.append(mpd.parent / _fill(template.get("media", ""), values, number, time))
                number += 1
    return files


_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_MPD_NS = "{urn:mpeg:dash:schema:mpd:2011}"
_MPD_IDENTIFIER = re.compile(r"\$(RepresentationID|Number|Time|Bandwidth|)(%0(\d+)d)?\$")


def _timeline(template: ElementTree.Element) -> list[int]:
    """Start times of a SegmentTemplate's segments, from its SegmentTimeline."""
    timeline = template.find(f"{_MPD_NS}SegmentTimeline")
    times: list[int] = []
    now = 0
    for entry in timeline if timeline is not None else []:
        now = int(entry.get("t", now))
        for _ in range(int(entry.get("r", "0")) + 1):
            times.append(now)
            now += int(entry.get("d", "0"))
    return times


def _fill(pattern: str, values: dict[str, str], number: int, time: int) -> str:
    def one(match: re.Match[str]) -> str:
        name, width = match[1], int(match[3] or 0)
        if not name:
            return "$"
        value = {"Number": str(number), "Time": str(time)}.get(name) or values.get(
            name.lower() if name == "Bandwidth" else name, ""
        )
        return value.zfill(width)

    return _MPD_IDENTIFIER.sub(one, pattern)


def _ffprobe(path: Path, what: list[str] | None = None) -> dict[str, Any]:
    process = _spawn(path, what)
    try:
        return _collect(process, PROBE_TIMEOUT_S)
    finally:
        _reap(process)


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
        if demuxer := demuxers.refused(stderr):
            raise demuxers.refusal(INPUT_NOT_VIDEO, "input is not a decodable video", demuxer)
        first = next((line for line in stderr.splitlines() if line.strip()), "unreadable")
        raise TaskFailed(INPUT_NOT_VIDEO, f"input is not a decodable video: {first.strip()}")
    report: dict[str, Any] = json.loads(stdout or "{}")
    return report


def _first(streams: list[dict[str, Any]], codec_type: str) -> dict[str, Any] | None:
    # A cover picture in an mp4 or mp3 is a "video" stream too; it is not the video.
    for stream in streams:
        attached = stream.get("disposition", {}).get("attached_pic", 0)
        if stream.get("codec_type") == codec_type and not attached:
            return stream
    return None


def _display_size(video: dict[str, Any]) -> tuple[int, int]:
    # ffmpeg auto-rotates phone videos, so the output is as wide as the *displayed* picture.
    width, height = int(video.get("width", 0)), int(video.get("height", 0))
    rotation = 0.0
    for side_data in video.get("side_data_list", []):
        rotation = _number(side_data.get("rotation")) or rotation
    rotation = rotation or _number(video.get("tags", {}).get("rotate"))
    if round(abs(rotation)) % 180 == 90:
        return height, width
    return width, height


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0  # ffprobe writes "N/A" or leaves the field out


def _rate(value: Any) -> float:
    try:
        return float(Fraction(str(value)))
    except (ValueError, ZeroDivisionError):
        return 0.0
