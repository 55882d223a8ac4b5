"""The plan builder: a TemplateSpec and the input's probe as an ffmpeg-python graph.

Inputs carry their input options (the demuxer whitelist) as `ffmpeg.input(...)` keywords, since
ffmpeg-python writes global arguments after the outputs, where ffmpeg would not read an input
option. The picture is decoded once: `split` feeds one `scale` (+ logo `overlay`) chain per
rendition, the thumbnails are a further branch of the first picture (`select`, `scale`), and
`compile()` gives the argument list `runner.run_ffmpeg` runs.

What ffmpeg-python cannot express is in `stream_option` and `_plain` below: its output keywords
have no stream specifiers (and come out sorted, so no option here depends on order: each is
given once, for all video streams or per stream, never both), and its filter arguments are
escaped for `\\ ' = :` twice over, which only values without those characters survive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg

from emulator.template_spec import AudioLayout, LogoSpec, TemplateSpec
from emulator.transcode import demuxers, ladder, packaging, thumbnails
from emulator.transcode.ladder import Gop, Rendition
from emulator.transcode.packaging import Packaging
from emulator.transcode.probe import MediaInfo

GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-loglevel", "error", "-y")

Options = dict[str, Any]


def stream_option(name: str, index: int | None) -> str:
    """The output keyword of option `name` for every video stream (`index` None) or for video
    stream `index`: `crf` -> `crf:v:1`, `c:v` -> `c:v:1`."""
    if index is None:
        return name
    return f"{name}:{index}" if name.endswith(":v") else f"{name}:v:{index}"


def _plain(value: str) -> str:
    # TemplateSpec's rules keep these out of every value that reaches a filter (sizes, overlay
    # expressions, the thumbnail grid); one would come out of ffmpeg-python escaped wrongly.
    if any(char in value for char in "\\'=:;[]"):
        raise ValueError(f"filter argument {value!r} has a character ffmpeg-python mis-escapes")
    return value


def compile_args(
    spec: TemplateSpec,
    *,
    renditions: tuple[Rendition, ...],
    package: Packaging,
    snapshots: thumbnails.Thumbnails | None,
    source: MediaInfo,
    input_path: Path,
    logo_path: Path | None,
    out_dir: Path,
    basename: str,
    preset: str,
    progress: str | None,
) -> list[str]:
    """The whole ffmpeg argument list, starting with "ffmpeg"."""
    whitelist = demuxers.input_options()
    media = ffmpeg.input(str(input_path.resolve()), **whitelist)
    logo = None if logo_path is None else ffmpeg.input(str(logo_path.resolve()), **whitelist)
    pictures = _pictures(media["v:0"], renditions, source, logo, spec.logo)
    outputs = []
    if snapshots is not None:
        pictures[0], snap = _thumbnail_branch(pictures[0], snapshots)
        target = out_dir / thumbnails.PATTERN.format(basename=basename)
        outputs.append(ffmpeg.output(snap, str(target), **_thumbnail_options(snapshots)))
    bitrates = _audio_bitrates(package, renditions) if source.has_audio else []
    streams = [*pictures, *[media["a:0"]] * len(bitrates)]
    muxer, target = packaging.muxer_options(
        package, out_dir=out_dir, basename=basename, audio=bool(bitrates), variants=len(pictures)
    )
    options = {
        **_video_options(spec, package, renditions, source, preset),
        **_audio_options(spec.audio, bitrates),
        **muxer,
    }
    outputs.insert(0, ffmpeg.output(*streams, str(target), **options))
    progress_args = ("-progress", progress, "-nostats") if progress is not None else ()
    graph = ffmpeg.merge_outputs(*outputs).global_args(*GLOBAL_ARGS, *progress_args)
    return [str(arg) for arg in graph.compile()]


def _pictures(
    video: Any,
    renditions: tuple[Rendition, ...],
    source: MediaInfo,
    logo: Any | None,
    placement: LogoSpec,
) -> list[Any]:
    """One filtered picture per rendition (the input's own video when nothing changes it)."""
    count = len(renditions)
    pictures = _copies(video, count)
    logos = [] if logo is None else _logo_copies(logo["v:0"], placement, count)
    result = []
    for rendition, picture in zip(renditions, pictures, strict=True):
        size = ladder.scale(rendition.resolution, source)
        if size is not None:
            picture = picture.filter("scale", *(_plain(str(side)) for side in size))
        if logos:
            x, y = _offset(placement.offset)
            # A still logo ends after one frame; eof_action=repeat keeps it for the whole video.
            picture = ffmpeg.overlay(picture, logos.pop(0), eof_action="repeat", x=x, y=y)
        result.append(picture)
    return result


def _logo_copies(logo: Any, placement: LogoSpec, count: int) -> list[Any]:
    if placement.size:
        width, height = placement.size.split("x")
        logo = logo.filter("scale", int(width), int(height))
    return _copies(logo, count)


def _copies(stream: Any, count: int) -> list[Any]:
    """`count` streams of the same picture: a `split` when there are several."""
    if count == 1:
        return [stream]
    split = stream.split()
    return [split[n] for n in range(count)]


def _offset(text: str) -> tuple[str, str]:
    """Overlay x and y from a checked logo_offset: `X:Y`, or `x=<expr>:y=<expr>` (either)."""
    parts = [part.strip() for part in text.split(":")] if text.strip() else []
    if len(parts) == 2 and not any("=" in part for part in parts):
        return _plain(parts[0]), _plain(parts[1])
    offset = {"x": "0", "y": "0"}
    for part in parts:
        key, _, expression = part.partition("=")
        offset[key.strip()] = _plain(expression.strip())
    return offset["x"], offset["y"]


def _thumbnail_branch(picture: Any, spec: thumbnails.Thumbnails) -> tuple[Any, Any]:
    """Split `picture`: (the stream that replaces it, the thumbnail stream)."""
    keep, snap = _copies(picture, 2)
    # Each frame on the grid start + k * interval (1 ms slack for timestamp rounding).
    grid = f"gte(t,{spec.start:g}+selected_n*{spec.interval:g}-0.001)"
    snap = snap.filter("select", _plain(grid))
    if spec.width or spec.height:
        snap = snap.filter("scale", spec.width or -2, spec.height or -2)
    return keep, snap


def _thumbnail_options(spec: thumbnails.Thumbnails) -> Options:
    return {"frames:v": spec.number, "fps_mode": "vfr", "c:v": "mjpeg", "q:v": 2, "f": "image2"}


def _video_options(
    spec: TemplateSpec,
    package: Packaging,
    renditions: tuple[Rendition, ...],
    source: MediaInfo,
    preset: str,
) -> Options:
    gop = Gop(frames=spec.gop.size, seconds=0.0 if spec.gop.size else float(spec.gop.seconds))
    single = len(renditions) == 1
    options: Options = {"pix_fmt": "yuv420p"}
    for index, rendition in enumerate(renditions):
        video = ladder.video_options(
            rendition, fmt=package.format, preset=preset, gop=gop, source=source
        )
        at = None if single else index
        options.update({stream_option(name, at): value for name, value in video.items()})
    if package.segmented and not gop:
        # Without a keyframe every seg_time, x264's 250-frame GOP makes ~10 s segments.
        options["force_key_frames"] = f"expr:gte(t,n_forced*{package.seg_time:g})"
    return options


def _audio_bitrates(package: Packaging, renditions: tuple[Rendition, ...]) -> list[int]:
    """One AAC stream per HLS variant (muxed in), one per distinct bitrate in DASH."""
    if package.master:
        return [rendition.audio_bitrate for rendition in renditions]
    if package.format == "dash":
        return list(dict.fromkeys(rendition.audio_bitrate for rendition in renditions))
    return [renditions[0].audio_bitrate]


def _audio_options(layout: AudioLayout, bitrates: list[int]) -> Options:
    if not bitrates:
        return {"an": None}
    options: Options = {"c:a": "aac"}
    if len(bitrates) == 1:
        options["b:a"] = bitrates[0]
    else:
        options.update({f"b:a:{index}": rate for index, rate in enumerate(bitrates)})
    if layout.sample_rate:
        options["ar"] = layout.sample_rate
    if layout.channels:
        options["ac"] = layout.channels
    return options
