"""Renditions: one per adaptive_streams entry (or the template itself), all from one decode.

The source is decoded once: `[0:v:0]split=N` feeds one scale (+ logo overlay) chain per
rendition (graph.py), and every rendition's encoder gets its own options (`-c:v:i`,
`-crf:v:i`, ...).
An entry's field left out takes the template's value; `"0"` as resolution keeps the source
size.

Quality -> rate control. Without `video_bitrate`, quality picks a constant rate factor
(lower CRF = better picture, bigger file); libx265's CRF scale gives the same picture at
about 4 more than libx264's, so h265 uses the h264 value + 4:

    quality | 1  | 2  | 3  | 4  | 5  | 6  | 7  | 8  | 9  | 10
    h264    | 40 | 37 | 34 | 31 | 28 | 26 | 24 | 22 | 20 | 18
    h265    | 44 | 41 | 38 | 35 | 32 | 30 | 28 | 26 | 24 | 22

With `video_bitrate` > 0 (kbit/s) the encoder targets that bitrate instead
(`-b:v Nk -maxrate Nk -bufsize 2Nk`) and quality is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from emulator.template_spec import RenditionSpec, TemplateSpec
from emulator.transcode.probe import MediaInfo

# fmt: off
QUALITY_TO_CRF: dict[int, int] = {
    1: 40, 2: 37, 3: 34, 4: 31, 5: 28, 6: 26, 7: 24, 8: 22, 9: 20, 10: 18,
}
# fmt: on
X265_CRF_OFFSET = 4
ENCODERS = {"h264": "libx264", "h265": "libx265"}
CODEC_NAMES = {"h264": "h264", "h265": "hevc"}  # as ffprobe names them
FALLBACK_FPS = 25.0  # for gop_seconds when ffprobe cannot tell the source's frame rate

_SIZE = re.compile(r"(\d+)x(\d+)")
_HEIGHT = re.compile(r"(\d+)p")


@dataclass(frozen=True)
class Rendition:
    vcodec: str
    quality: int
    resolution: str
    framerate: int
    video_bitrate: int  # kbit/s, 0 = quality (CRF) mode
    audio_bitrate: int  # bit/s


@dataclass(frozen=True)
class Gop:
    """Keyframe interval: gop_size frames, or gop_seconds turned into frames per rendition."""

    frames: int = 0
    seconds: float = 0.0

    def frames_for(self, rendition: Rendition, source: MediaInfo) -> int:
        if self.frames:
            return self.frames
        fps = rendition.framerate or source.framerate or FALLBACK_FPS
        return max(1, round(self.seconds * fps))

    def __bool__(self) -> bool:
        return bool(self.frames or self.seconds)


def renditions(spec: TemplateSpec) -> tuple[Rendition, ...]:
    """adaptive_streams as renditions (a field left out inherits the template's), or the
    template itself as the only one."""
    base = Rendition(
        vcodec=spec.vcodec,
        quality=round(spec.quality),
        resolution=spec.resolution,
        framerate=spec.framerate,
        video_bitrate=spec.video_bitrate,
        audio_bitrate=spec.audio_bitrate,
    )
    return tuple(_inherit(entry, base) for entry in spec.renditions) or (base,)


def _inherit(entry: RenditionSpec, base: Rendition) -> Rendition:
    given = entry.model_dump(exclude_none=True)
    if "quality" in given:
        given["quality"] = round(given["quality"])  # fractions (v1) round to the table
    return replace(base, **given)


def scale(resolution: str, source: MediaInfo) -> tuple[int | str, int | str] | None:
    """`scale` filter arguments for a checked resolution, or None to keep the picture."""
    if resolution in ("", "0", "0x0"):
        if source.width % 2 or source.height % 2:
            # libx264 with yuv420p needs even dimensions.
            return ("trunc(iw/2)*2", "trunc(ih/2)*2")
        return None
    if match := _HEIGHT.fullmatch(resolution):
        return (-2, int(match[1]))  # -2: keep the aspect ratio, round the width to even
    match = _SIZE.fullmatch(resolution)
    assert match is not None  # resolution() accepted it
    return (int(match[1]), int(match[2]))


def frame(rendition: Rendition, source: MediaInfo | None) -> tuple[int, int, float] | None:
    """Width, height and frame rate the rendition encodes; None when they depend on a source
    not probed yet (`source` None: the size or rate is the source's)."""
    if rendition.framerate:
        fps = float(rendition.framerate)
    elif source is not None:
        fps = source.framerate or FALLBACK_FPS
    else:
        return None
    text = rendition.resolution
    if text not in ("", "0", "0x0") and (size := _SIZE.fullmatch(text)):
        return int(size[1]), int(size[2]), fps
    if source is None or source.height <= 0:
        return None
    if height_only := _HEIGHT.fullmatch(text):
        height = int(height_only[1])
        # scale=-2:H (scale() above) keeps the source's aspect ratio with an even width.
        return max(2, round(source.width * height / source.height / 2) * 2), height, fps
    return source.width // 2 * 2, source.height // 2 * 2, fps


def pixel_rate_excess(
    renditions: tuple[Rendition, ...], source: MediaInfo | None, limit: int
) -> str | None:
    """Why the renditions' summed output pixel rate is over `limit`, or None when it is not.

    Without a source only what the template fixes counts (a rendition whose size or frame
    rate is the source's counts 0), so None then means "check again once probed".
    """
    frames = [f for f in (frame(r, source) for r in renditions) if f is not None]
    rate = sum(width * height * fps for width, height, fps in frames)
    if rate <= limit:
        return None
    pictures = ", ".join(f"{w}x{h} at {fps:g} fps" for w, h, fps in frames)
    return (
        f"output pixel rate {rate:,.0f} pixels/s ({pictures}) is over EMULATOR_MAX_PIXEL_RATE "
        f"({limit:,} pixels/s, summed over all renditions)"
    )


def video_options(
    rendition: Rendition, *, fmt: str, preset: str, gop: Gop, source: MediaInfo
) -> dict[str, str]:
    """Encoder options of one rendition, named for all video streams (`crf`, `c:v`)."""
    options = {"c:v": ENCODERS[rendition.vcodec], "preset": preset}
    if rendition.vcodec == "h265":
        params = "log-level=error"
        if gop:
            frames = gop.frames_for(rendition, source)
            params += f":keyint={frames}:min-keyint={frames}:scenecut=0:open-gop=0"
        options["x265-params"] = params
        if fmt in ("mp4", "hls", "dash"):
            options["tag:v"] = "hvc1"  # Apple players only play HEVC tagged hvc1
    elif gop:
        options["g"] = str(gop.frames_for(rendition, source))
        options["sc_threshold"] = "0"  # no extra keyframes at scene cuts
    if rendition.video_bitrate > 0:
        kbps = rendition.video_bitrate
        options.update({"b:v": f"{kbps}k", "maxrate": f"{kbps}k", "bufsize": f"{2 * kbps}k"})
    else:
        offset = X265_CRF_OFFSET if rendition.vcodec == "h265" else 0
        options["crf"] = str(QUALITY_TO_CRF[rendition.quality] + offset)
    if rendition.framerate > 0:
        options["r"] = str(rendition.framerate)
    return options
