"""The demuxers ffmpeg may use on a task's input or logo: self-contained files only.

A manifest (HLS, DASH), a concat list or an image sequence makes ffmpeg open further files or
URLs itself, outside the emulator's address rules: a `file://` path on this machine included.
A protocol whitelist cannot stop that, since the input is itself a local file, so every ffmpeg
and ffprobe that reads a task's input or logo gets `-format_whitelist` as an input option and
ffmpeg refuses any other demuxer, whatever the file's name or extension.

ffmpeg (libavformat's av_match_list) accepts a demuxer when any of its comma-separated names is
listed: "mov" admits `mov,mp4,m4a,3gp,3g2,mj2`, "matroska" admits `matroska,webm`. The logo is
stored without a suffix, so ffmpeg probes PNG and JPEG by content (png_pipe, jpeg_pipe); the
extension-driven image2 demuxer, which expands `%d` patterns into sequences, is left out.
"""

from __future__ import annotations

import re

from emulator.errors import TaskFailed

INPUT_FORMATS = ",".join(
    (
        "mov",  # mov,mp4,m4a,3gp,3g2,mj2 (external data references are off by default)
        "matroska",  # matroska,webm
        "flv",
        "mpegts",
        "avi",
        "mpeg",  # MPEG-PS (.mpg, .vob)
        "ogg",
        "wav",
        "mp3",
        "aac",
        "png_pipe",  # logos
        "jpeg_pipe",
    )
)

MANIFEST_NOT_SUPPORTED = "manifest inputs are not supported"
# Refused demuxers that read a list of other resources; any other refused one is a container
# the emulator does not take (a raw elementary stream, say).
MANIFESTS = frozenset({"hls", "dash", "webm_dash_manifest", "concat", "image2"})

# ffmpeg logs the refusal under the demuxer it detected: "[hls @ 0x55d1…] Format not on
# whitelist 'mov,…'".
_REFUSED = re.compile(r"\[([\w,]+) @ 0x[0-9a-f]+\] Format not on whitelist")


def input_options() -> dict[str, str]:
    """Input options of a task's input or logo, as `ffmpeg.input(...)` keywords."""
    return {"format_whitelist": INPUT_FORMATS}


def input_args() -> list[str]:
    """The same options as arguments before an `-i` (or ffprobe's input)."""
    return [arg for name, value in input_options().items() for arg in (f"-{name}", value)]


def refused(stderr: str) -> str | None:
    """The demuxer ffmpeg refused for not being on the whitelist, if it refused one."""
    match = _REFUSED.search(stderr)
    return match[1] if match else None


def refusal(err_code: int, problem: str, demuxer: str) -> TaskFailed:
    """The task failure for an input or logo that ffmpeg reads as a refused `demuxer`;
    `problem` opens the message ("input is not a decodable video")."""
    if demuxer in MANIFESTS:
        reason = f"{MANIFEST_NOT_SUPPORTED} (ffmpeg reads it as {demuxer})"
    else:
        reason = f"ffmpeg reads it as {demuxer}, which is not an accepted container"
    return TaskFailed(err_code, f"{problem}: {reason}; accepted: {INPUT_FORMATS}")
