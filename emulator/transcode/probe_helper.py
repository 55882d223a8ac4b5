"""The probe helper process: FFmpeg's libraries (PyAV) loaded once, measuring files on request.

prober.Prober runs it as `python -m emulator.transcode.probe_helper`. Each request is one JSON
line on stdin: `{"op": "probe" | "extradata", "path": ..., "options": {...}}`. The helper
answers `{"ack": true}` as soon as it has read it, then one reply line:
- `{"report": ...}`: for "probe", a report shaped like `ffprobe -show_format -show_streams`
  (the fields media_info.media_info reads, under ffprobe's names); for "extradata", the
  first video stream's `codec_name` and `extradata` (hex);
- `{"stderr": ...}`: FFmpeg could not open the file; its error log as ffprobe would print it
  (`[demuxer @ 0x0] message` lines, then `path: reason`).
It exits at the end of stdin, i.e. when its owner closes the pipe or dies.

Only this module imports av: the parent never loads FFmpeg's libraries, and a crash or hang
inside them ends or stalls this process alone.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from fractions import Fraction
from typing import IO, Any

import av
import av.logging

# Lines kept of FFmpeg's error log per request: the first one names the problem, and a hostile
# file can make a decoder log without end.
_LOG_LINES = 20
_WATCH_S = 1.0


class _ErrorLog(logging.Handler):
    """FFmpeg's error lines of the current request (PyAV logs them as `libav.<context>`)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < _LOG_LINES:
            context = record.name.removeprefix("libav.")
            self.lines.append(f"[{context} @ 0x0] {record.getMessage()}")


def main() -> None:
    # The replies get their own copy of stdout; fd 1 then points at stderr, so nothing a
    # library prints can corrupt the replies.
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    log = _ErrorLog()
    libav = logging.getLogger("libav")
    libav.addHandler(log)
    libav.propagate = False
    av.logging.set_level(av.logging.ERROR)
    _watch_parent(os.getppid())
    for line in sys.stdin.buffer:
        request = json.loads(line)
        _send(replies, {"ack": True})
        log.lines.clear()
        _send(replies, _answer(request, log))


def _answer(request: dict[str, Any], log: _ErrorLog) -> dict[str, Any]:
    path = str(request["path"])
    try:
        with av.open(path, options=request.get("options") or {}) as container:
            if request["op"] == "extradata":
                return {"report": _extradata(container)}
            return {"report": _report(container)}
    except (av.error.MemoryError, MemoryError) as error:
        # Past the address-space limit its owner set: not a verdict on the file to pass on.
        return {"stderr": f"{path}: {error}", "out_of_memory": True}
    except av.error.FFmpegError as error:
        reason = error.strerror or str(error)
    except Exception as error:
        # A stream this module does not expect: reported, so the owner asks ffprobe instead.
        reason = f"{type(error).__name__}: {error}"
    return {"stderr": "\n".join([*log.lines, f"{path}: {reason}"])}


def _report(container: av.container.InputContainer) -> dict[str, Any]:
    fmt: dict[str, Any] = {"format_name": container.format.name}
    if container.duration is not None:
        fmt["duration"] = container.duration / av.time_base
    if container.size > 0:
        fmt["size"] = container.size
    if container.bit_rate > 0:
        fmt["bit_rate"] = container.bit_rate
    streams = [_stream(stream) for stream in container.streams]
    # The display matrix (a phone's rotation) is stream side data PyAV does not show; the
    # decoder copies it to each frame. Only the video the rules measure is decoded.
    for stream, entry in zip(container.streams, streams, strict=True):
        if entry["codec_type"] == "video" and not entry["disposition"]["attached_pic"]:
            if rotation := _rotation(container, stream):
                entry["side_data_list"] = [{"rotation": rotation}]
            break
    return {"format": fmt, "streams": streams}


def _stream(stream: av.stream.Stream) -> dict[str, Any]:
    attached = bool(stream.disposition & av.stream.Disposition.attached_pic)
    entry: dict[str, Any] = {
        "codec_type": stream.type,
        "disposition": {"attached_pic": int(attached)},
        "tags": dict(stream.metadata),
    }
    if stream.duration is not None and stream.time_base is not None:
        entry["duration"] = float(f"{float(stream.duration * stream.time_base):f}")
    context = stream.codec_context
    if context is None:
        return entry
    entry["codec_name"] = context.codec.canonical_name
    if context.bit_rate:
        entry["bit_rate"] = context.bit_rate
    if isinstance(context, av.VideoCodecContext):
        entry.update(width=context.width, height=context.height)
        entry["avg_frame_rate"] = _ratio(stream.average_rate)
        entry["r_frame_rate"] = _ratio(stream.base_rate)
    elif isinstance(context, av.AudioCodecContext):
        entry.update(sample_rate=context.sample_rate, channels=context.channels)
    return entry


def _rotation(container: av.container.InputContainer, stream: av.stream.Stream) -> int:
    stream.codec_context.thread_count = 1  # one frame: threads would only delay it
    try:
        for frame in container.decode(stream):
            return int(frame.rotation) if isinstance(frame, av.VideoFrame) else 0
    except av.error.FFmpegError:
        pass  # undecodable: no rotation known, as ffprobe measures without decoding
    return 0


def _extradata(container: av.container.InputContainer) -> dict[str, Any]:
    videos = container.streams.video
    if not videos or videos[0].codec_context is None:
        return {"codec_name": "", "extradata": ""}
    context = videos[0].codec_context
    extradata = context.extradata or b""
    return {"codec_name": context.codec.canonical_name, "extradata": extradata.hex()}


def _ratio(value: Fraction | None) -> str:
    return f"{value.numerator}/{value.denominator}" if value else "0/0"


def _send(replies: IO[bytes], reply: dict[str, Any]) -> None:
    replies.write(json.dumps(reply).encode() + b"\n")


def _watch_parent(parent: int) -> None:
    """Exit once the owner is gone, even while FFmpeg blocks (stdin's end of file is only
    seen between requests)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
