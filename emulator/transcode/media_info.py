"""What a probe report says about one file: MediaInfo, the rules that refuse non-videos, sizes.

A report is shaped like ffprobe's JSON (`format`, `streams`), whoever wrote it: the probe
helper (prober.py) writes the same fields, so each rule is written here once. Also lists the
local files an HLS playlist (master or media) or a DASH MPD references.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode import demuxers

# Demuxers that report a "video" stream for things that are not videos: `tty` claims any
# long enough .txt file as ANSI art, image demuxers give one frame with no timeline.
_NOT_VIDEO_FORMATS = ("tty", "image2")


@dataclass(frozen=True)
class MediaInfo:
    """What a probe says about one file; bitrates in kbit/s, 0 (or "") when unknown or absent."""

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


def media_info(path: Path, report: dict[str, Any]) -> MediaInfo:
    """The MediaInfo of `path` from its probe report; TaskFailed 2002 unless it is a video."""
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


def avc_codecs(codec_name: str, extradata: bytes) -> str:
    """RFC 6381 CODECS of a video stream if it is H.264 (`avc1.PPCCLL`), else "", from its
    codec name and extradata."""
    if codec_name != "h264":
        return ""
    if extradata[:1] == b"\x01":  # avcC (mp4): version, profile, constraints, level
        return f"avc1.{extradata[1:4].hex()}"
    start = extradata.find(b"\x00\x00\x01\x67")  # Annex B (ts): the SPS NAL unit
    return f"avc1.{extradata[start + 4 : start + 7].hex()}" if start >= 0 else ""


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


def failure(stderr: str) -> TaskFailed:
    """The 2002 for a file FFmpeg could not open, from its error log (ffprobe's stderr, or the
    helper's log in the same `[demuxer @ 0x…] message` lines): a refused demuxer, else the first
    line."""
    if demuxer := demuxers.refused(stderr):
        return demuxers.refusal(INPUT_NOT_VIDEO, "input is not a decodable video", demuxer)
    first = next((line for line in stderr.splitlines() if line.strip()), "unreadable")
    return TaskFailed(INPUT_NOT_VIDEO, f"input is not a decodable video: {first.strip()}")


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
