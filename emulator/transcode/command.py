"""Template -> ffmpeg arguments: the one place that maps vendor template fields to ffmpeg options.

Built with ffmpeg-python and never executed here (`runner.run_ffmpeg` does that).

Quality -> rate control. Without `video_bitrate`, quality picks a constant rate factor
(lower CRF = better picture, bigger file); libx265's CRF scale gives the same picture at
about 4 more than libx264's, so h265 uses the h264 value + 4:

    quality | 1  | 2  | 3  | 4  | 5  | 6  | 7  | 8  | 9  | 10
    h264    | 40 | 37 | 34 | 31 | 28 | 26 | 24 | 22 | 20 | 18
    h265    | 44 | 41 | 38 | 35 | 32 | 30 | 28 | 26 | 24 | 22

With `video_bitrate` > 0 (kbit/s) the encoder targets that bitrate instead
(`-b:v Nk -maxrate Nk -bufsize 2Nk`) and quality is ignored.

Field mapping (SPEC.md section 4): resolution `""`/`"0"` keeps the source size (rounded down
to even), `NNNp` is `scale=-2:NNN`, `WxH` is `scale=W:H`; the logo (input 1) is scaled to
logo_size and overlaid on the scaled picture at logo_offset (`X:Y` pixels from the output's
top-left, or an overlay expression such as `x=(W-w)/2:y=(H-h)/2`); framerate > 0 is `-r`;
audio is AAC at audio_bitrate when the source has audio.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import ffmpeg

from emulator.errors import NOT_EMULATED, TRANSCODE_FAILED, TaskFailed
from emulator.transcode.probe import MediaInfo, playlist_segments

# fmt: off
QUALITY_TO_CRF: dict[int, int] = {
    1: 40, 2: 37, 3: 34, 4: 31, 5: 28, 6: 26, 7: 24, 8: 22, 9: 20, 10: 18,
}
# fmt: on
X265_CRF_OFFSET = 4
HLS_SEGMENT_S = 4
MAX_DIMENSION = 8192

ENCODERS = {"h264": "libx264", "h265": "libx265"}
SUFFIXES = {"mp4": ".mp4", "hls": ".m3u8", "flv": ".flv"}

_SIZE = re.compile(r"(\d+)x(\d+)")
_HEIGHT = re.compile(r"(\d+)p")
# Overlay expressions: numbers, variables (W, h, main_w, t...), operators and function calls.
# No quotes, brackets or semicolons, so a template cannot reach into the filtergraph.
_EXPRESSION = re.compile(r"[\w+\-*/^().,\s]+")


@dataclass(frozen=True)
class EncodePlan:
    args: list[str]  # full argv starting with "ffmpeg"
    output: Path  # the main output file (mp4/flv file, or the .m3u8 playlist)
    out_dir: Path  # every file ffmpeg writes lands here (hls segments beside the playlist)


@dataclass(frozen=True)
class _Settings:
    """A template's fields, checked and in Python types."""

    format: str
    quality: int
    framerate: int
    resolution: str
    vcodec: str
    audio_bitrate: int
    logo_size: tuple[int, int] | None
    logo_offset: dict[str, str]
    video_bitrate: int


def build_plan(
    template: Mapping[str, Any],
    *,
    input_path: Path,
    out_dir: Path,
    basename: str,
    source: MediaInfo,
    logo_path: Path | None = None,
    preset: str = "veryfast",
    progress: str | None = "pipe:1",
) -> EncodePlan:
    """The ffmpeg command turning `input_path` into `out_dir/basename.<mp4|m3u8|flv>`.

    `basename` is a plain file name without suffix, `/` or `%` (ffmpeg 5.1's hls muxer
    cannot escape `%` in segment paths, so out_dir has none either for hls); `out_dir` must
    exist when the command runs.
    Raises TaskFailed 2003 naming the field for an invalid template, 2007 for h265 in flv.
    """
    if not basename or "/" in basename or "%" in basename or basename in {".", ".."}:
        raise ValueError(f"basename must be a plain file name without '/' or '%': {basename!r}")
    settings = _parse(template)
    if settings.vcodec == "h265" and settings.format == "flv":
        raise TaskFailed(
            NOT_EMULATED, "h265 in flv is not emulated (ffmpeg 5.1 cannot mux HEVC into FLV)"
        )
    out_dir = out_dir.resolve()
    if settings.format == "hls" and "%" in str(out_dir):
        raise ValueError(f"out_dir of an hls plan cannot contain '%': {out_dir}")
    output = out_dir / f"{basename}{SUFFIXES[settings.format]}"
    main = ffmpeg.input(str(input_path.resolve()))
    streams = [_video(main, settings, source, logo_path)]
    if source.has_audio:
        streams.append(main["a:0"])
    options = {
        **_video_options(settings, preset),
        **_audio_options(settings, source),
        **_container_options(settings, out_dir, basename),
    }
    global_args = ["-nostdin", "-hide_banner", "-loglevel", "error"]
    if progress is not None:
        global_args += ["-progress", progress, "-nostats"]
    command = ffmpeg.output(*streams, str(output), **options).global_args(*global_args)
    args: list[str] = command.compile(cmd="ffmpeg", overwrite_output=True)
    return EncodePlan(args=args, output=output, out_dir=out_dir)


def written_files(plan: EncodePlan) -> list[Path]:
    """Every file the plan's run wrote, main output first; TaskFailed 2003 if one is missing.

    ffmpeg 5.1's hls muxer logs an error but still exits 0 when it cannot write a segment,
    so a zero exit alone does not prove the output is complete.
    """
    files = [plan.output]
    if plan.output.suffix == ".m3u8" and plan.output.is_file():
        files += playlist_segments(plan.output)
    for path in files:
        if not path.is_file() or path.stat().st_size == 0:
            raise TaskFailed(TRANSCODE_FAILED, f"ffmpeg exited 0 but did not write {path.name}")
    return files


def describe_command(args: list[str]) -> str:
    """The command as one shell-quoted line, for logs and the dashboard."""
    return shlex.join(args)


def _video(main: Any, settings: _Settings, source: MediaInfo, logo_path: Path | None) -> Any:
    video = main["v:0"]
    scale = _scale(settings.resolution, source)
    if scale is not None:
        video = video.filter("scale", *scale)
    if logo_path is not None:
        logo = ffmpeg.input(str(logo_path.resolve()))["v:0"]
        if settings.logo_size is not None:
            logo = logo.filter("scale", *settings.logo_size)
        # A still logo ends after one frame; eof_action=repeat keeps it for the whole video.
        video = video.overlay(logo, eof_action="repeat", **settings.logo_offset)
    return video


def _scale(resolution: str, source: MediaInfo) -> tuple[int | str, int | str] | None:
    if resolution in ("", "0", "0x0"):
        if source.width % 2 or source.height % 2:
            # libx264 with yuv420p needs even dimensions.
            return ("trunc(iw/2)*2", "trunc(ih/2)*2")
        return None
    if match := _HEIGHT.fullmatch(resolution):
        return (-2, int(match[1]))  # -2: keep the aspect ratio, round the width to even
    match = _SIZE.fullmatch(resolution)
    assert match is not None  # _parse accepted it
    return (int(match[1]), int(match[2]))


def _video_options(settings: _Settings, preset: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "c:v": ENCODERS[settings.vcodec],
        "preset": preset,
        "pix_fmt": "yuv420p",
    }
    if settings.vcodec == "h265":
        options["x265-params"] = "log-level=error"
        if settings.format in ("mp4", "hls"):
            options["tag:v"] = "hvc1"  # Apple players only play HEVC tagged hvc1
    if settings.video_bitrate > 0:
        kbps = settings.video_bitrate
        options.update(video_bitrate=f"{kbps}k", maxrate=f"{kbps}k", bufsize=f"{2 * kbps}k")
    else:
        offset = X265_CRF_OFFSET if settings.vcodec == "h265" else 0
        options["crf"] = QUALITY_TO_CRF[settings.quality] + offset
    if settings.framerate > 0:
        options["r"] = settings.framerate
    return options


def _audio_options(settings: _Settings, source: MediaInfo) -> dict[str, Any]:
    if not source.has_audio:
        return {"an": None}
    return {"c:a": "aac", "audio_bitrate": settings.audio_bitrate}


def _container_options(settings: _Settings, out_dir: Path, basename: str) -> dict[str, Any]:
    if settings.format == "mp4":
        return {"format": "mp4", "movflags": "+faststart"}
    if settings.format == "flv":
        return {"format": "flv"}
    return {
        "format": "hls",
        "hls_time": HLS_SEGMENT_S,
        "hls_playlist_type": "vod",
        "hls_list_size": 0,
        # The playlist names segments by bare file name (they sit beside it), so it plays
        # from any base URL (SPEC.md section 5).
        "hls_segment_filename": str(out_dir / f"{basename}_%05d.ts"),
        # Without a keyframe every hls_time, x264's 250-frame GOP makes ~10 s segments.
        "force_key_frames": f"expr:gte(t,n_forced*{HLS_SEGMENT_S})",
    }


def _parse(template: Mapping[str, Any]) -> _Settings:
    fmt = _choice(template, "format", "mp4", SUFFIXES)
    vcodec = _choice(template, "vcodec", "h264", ENCODERS)
    _choice(template, "acodec", "aac", {"aac": 0, "acc": 0})  # the reference spells it acc
    resolution = str(template.get("resolution") or "").strip().lower()
    if not (resolution in ("", "0", "0x0") or _even_height(resolution) or _even_size(resolution)):
        _invalid("resolution", resolution, "expected '', '0', 'NNNp' or 'WxH' with even numbers")
    return _Settings(
        format=fmt,
        quality=_quality(template),
        framerate=_integer(template, "framerate", 0, 0, 120),
        resolution=resolution,
        vcodec=vcodec,
        audio_bitrate=_integer(template, "audio_bitrate", 64000, 8000, 512000),
        logo_size=_logo_size(template.get("logo_size")),
        logo_offset=_logo_offset(template.get("logo_offset")),
        video_bitrate=_integer(template, "video_bitrate", 0, 0, 200_000),
    )


def _choice(
    template: Mapping[str, Any], field: str, default: str, allowed: Mapping[str, Any]
) -> str:
    value = template.get(field)
    text = default if value is None or value == "" else str(value).strip().lower()
    if text not in allowed:
        _invalid(field, value, f"expected one of {', '.join(allowed)}")
    return "aac" if text == "acc" else text


def _integer(template: Mapping[str, Any], field: str, default: int, low: int, high: int) -> int:
    value = template.get(field)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip())
    except ValueError:
        _invalid(field, value, "expected an integer")
    if not low <= number <= high:
        _invalid(field, value, f"expected {low} to {high}")
    return number


def _quality(template: Mapping[str, Any]) -> int:
    """Quality 1-10; the current generation allows fractions, which round to the table."""
    value = template.get("quality")
    if value is None or value == "":
        return 5
    try:
        number = round(float(str(value).strip()))
    except ValueError:
        _invalid("quality", value, "expected a number from 1 to 10")
    if not 1 <= number <= 10:
        _invalid("quality", value, "expected 1 to 10")
    return number


def _even_height(text: str) -> bool:
    match = _HEIGHT.fullmatch(text)
    return match is not None and _even_dimension(match[1])


def _even_size(text: str) -> bool:
    match = _SIZE.fullmatch(text)
    return match is not None and _even_dimension(match[1]) and _even_dimension(match[2])


def _even_dimension(digits: str) -> bool:
    number = int(digits)
    return 2 <= number <= MAX_DIMENSION and number % 2 == 0


def _logo_size(value: Any) -> tuple[int, int] | None:
    text = str(value or "").strip().lower()
    if not text:
        return None
    match = _SIZE.fullmatch(text)
    if match is None or not all(1 <= int(n) <= MAX_DIMENSION for n in match.groups()):
        _invalid("logo_size", value, "expected 'WxH'")
    return (int(match[1]), int(match[2]))


def _logo_offset(value: Any) -> dict[str, str]:
    text = str(value or "").strip()
    if not text:
        return {"x": "0", "y": "0"}
    parts = [part.strip() for part in text.split(":")]
    if len(parts) == 2 and not any("=" in part for part in parts):
        offset = {"x": parts[0], "y": parts[1]}  # X:Y, numbers or expressions
    else:
        offset = {"x": "0", "y": "0"}
        for part in parts:
            key, sep, expression = part.partition("=")
            if not sep or key.strip() not in offset:
                _invalid("logo_offset", value, "expected 'X:Y' or 'x=<expr>:y=<expr>'")
            offset[key.strip()] = expression.strip()
    for expression in offset.values():
        if not _EXPRESSION.fullmatch(expression):
            _invalid("logo_offset", value, "expected 'X:Y' or 'x=<expr>:y=<expr>'")
    return offset


def _invalid(field: str, value: Any, expected: str) -> NoReturn:
    raise TaskFailed(TRANSCODE_FAILED, f"template field {field} is invalid: {value!r} ({expected})")
