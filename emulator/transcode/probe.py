"""Measure a media file with ffprobe: duration, size, bitrates and codecs (inputs and outputs)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed

PROBE_TIMEOUT_S = 60.0

# Demuxers that report a "video" stream for things that are not videos: `tty` claims any
# long enough .txt file as ANSI art, image demuxers give one frame with no timeline.
_NOT_VIDEO_FORMATS = ("tty", "image2")


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


def probe(path: Path) -> MediaInfo:
    """Probe `path` (a media file or a local HLS playlist); TaskFailed 2002 unless it is a video."""
    report = _ffprobe(path)
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
    if format_name == "hls":
        # The hls demuxer reports the playlist's own size (and a bitrate derived from it).
        size = sum(p.stat().st_size for p in playlist_segments(path) if p.is_file())
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
    """The files a local HLS media playlist references, resolved beside the playlist."""
    lines = playlist.read_text(encoding="utf-8", errors="replace").splitlines()
    uris = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [playlist.parent / uri for uri in uris]


def _ffprobe(path: Path) -> dict[str, Any]:
    args = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    if path.suffix.lower() == ".m3u8":
        # Segments of a local playlist are local files; refuse anything that would go online.
        args += ["-protocol_whitelist", "file,crypto"]
    try:
        done = subprocess.run(
            [*args, str(path.resolve())],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TaskFailed(
            INPUT_NOT_VIDEO,
            f"input is not a decodable video: ffprobe took over {PROBE_TIMEOUT_S:g} s",
        ) from None
    if done.returncode != 0:
        first = next((line for line in done.stderr.splitlines() if line.strip()), "unreadable")
        raise TaskFailed(INPUT_NOT_VIDEO, f"input is not a decodable video: {first.strip()}")
    report: dict[str, Any] = json.loads(done.stdout or "{}")
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
