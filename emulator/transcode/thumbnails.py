"""Thumbnail snapshots: JPEGs of the first rendition's picture, made in the same ffmpeg run
(a branch of the graph, graph.py).

Template `thumbnail` (TemplateSpec.thumbnail; zero = not set): start_point and interval in seconds,
number of snapshots, width and height in pixels. Snapshots are taken at start_point,
start_point + interval, ... (the first frame at or after each time) until `number` are taken
or the video ends. number 0 with an interval: as many as fit; interval 0 with a number: spread
evenly over the rest of the video; both 0: one. width/height 0: keep the picture's aspect
ratio (both 0: the first rendition's size). Files: `<b>_thumb_00001.jpg`, ... beside the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from glob import escape
from pathlib import Path

from emulator.errors import TRANSCODE_FAILED, TaskFailed
from emulator.template_spec import MAX_THUMBNAILS, ThumbnailSpec
from emulator.transcode.probe import MediaInfo

PATTERN = "{basename}_thumb_%05d.jpg"


@dataclass(frozen=True)
class Thumbnails:
    start: float
    interval: float
    number: int
    width: int
    height: int


def parse(config: ThumbnailSpec | None, source: MediaInfo) -> Thumbnails | None:
    """The snapshots to take; TaskFailed 2003 when start_point is past the input's end."""
    if config is None:
        return None
    start, interval, number = float(config.start_point), float(config.interval), config.number
    remaining = source.duration - start
    if source.duration > 0 and remaining <= 0:
        raise TaskFailed(
            TRANSCODE_FAILED,
            f"template field thumbnail.start_point is invalid: {config.start_point!r} "
            f"(before the end of the {source.duration:g} s input)",
        )
    remaining = max(remaining, 0.0)  # 0 when ffprobe could not tell the duration
    if number == 0:
        fit = math.ceil(remaining / interval) if interval > 0 else 1
        number = min(MAX_THUMBNAILS, max(1, fit))
    if interval == 0 and number > 1:
        interval = remaining / number if remaining > 0 else 1.0
    return Thumbnails(start, interval, number, config.width, config.height)


def written(out_dir: Path, basename: str) -> list[Path]:
    """The snapshots ffmpeg wrote, in order."""
    return sorted(out_dir.glob(f"{escape(basename)}_thumb_[0-9][0-9][0-9][0-9][0-9].jpg"))
