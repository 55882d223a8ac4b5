"""Measure a media file: duration, size, bitrates and codecs (inputs and outputs).

probe() and avc_codecs() ask the process-wide prober.Prober (one helper process with FFmpeg's
libraries loaded); each worker slot has a Prober of its own. MediaInfo and the rules live in
media_info.py.
"""

from __future__ import annotations

from pathlib import Path

from emulator.transcode import prober
from emulator.transcode.media_info import (
    MediaInfo,
    mpd_segments,
    playlist_segments,
)
from emulator.transcode.prober import PROBE_TIMEOUT_S

__all__ = [
    "PROBE_TIMEOUT_S",
    "MediaInfo",
    "avc_codecs",
    "mpd_segments",
    "playlist_segments",
    "probe",
]


def probe(path: Path, *, formats: str | None = None) -> MediaInfo:
    """Probe `path` (a media file or a local HLS playlist); TaskFailed 2002 unless it is a video.

    `formats` limits the demuxers FFmpeg may use (demuxers.INPUT_FORMATS for a task's input).
    """
    return prober.shared().probe(path, formats=formats)


def avc_codecs(path: Path) -> str:
    """RFC 6381 CODECS of the first video stream if it is H.264 (`avc1.PPCCLL`), else ""."""
    return prober.shared().avc_codecs(path)
