"""TemplateSpec -> ffmpeg run: the one place that maps template fields to ffmpeg options.

`build_plan` checks what the emulator can make and returns the argv that graph.py compiles
from an ffmpeg-python graph (never run here: `runner.run_ffmpeg` does that); after the run,
`finish` measures and completes the outputs (measured HLS bandwidths, AES-128) and
`written_files` lists every file to upload, main output first.

One ffmpeg run per task, decoding the input once: renditions (ladder.py) split the decoded
picture, thumbnails (thumbnails.py) are a further branch written as a second output, and the
package (packaging.py) is the muxer: mp4, flv, HLS (ts/fMP4, master + variants) or DASH.

Field mapping (SPEC.md section 4 and the v1 template): resolution `""`/`"0"` keeps the source
size (rounded down to even), `NNNp` is `scale=-2:NNN`, `WxH` is `scale=W:H`; the logo (input 1)
is scaled to logo_size and overlaid on each rendition at logo_offset (`X:Y` pixels from the
output's top-left, or an overlay expression such as `x=(W-w)/2:y=(H-h)/2`); framerate > 0 is
`-r`; gop_size (frames) or gop_seconds is a fixed keyframe interval (`-g`, no scene-cut
keyframes); without a GOP, HLS and DASH get a keyframe every seg_time so segments are
seg_time long. Audio is AAC at audio_bitrate, audio_sample_rate (`48k` or 48000) is `-ar`,
audio_channels is `-ac`, when the source has audio.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emulator.errors import NOT_EMULATED, TRANSCODE_FAILED, TaskFailed
from emulator.template_spec import TemplateSpec
from emulator.transcode import graph, ladder, packaging, thumbnails
from emulator.transcode.ladder import ENCODERS, QUALITY_TO_CRF, X265_CRF_OFFSET, Rendition
from emulator.transcode.packaging import HLS_SEGMENT_S, SUFFIXES, Encryption, Packaging
from emulator.transcode.probe import MediaInfo, mpd_segments, playlist_segments, probe

__all__ = [
    "ENCODERS",
    "HLS_SEGMENT_S",
    "QUALITY_TO_CRF",
    "SUFFIXES",
    "X265_CRF_OFFSET",
    "EncodePlan",
    "Finished",
    "OutputGroup",
    "TemplateSpec",
    "build_plan",
    "describe_command",
    "finish",
    "rewrites_outputs",
    "written_files",
]


@dataclass(frozen=True)
class EncodePlan:
    args: list[str]  # full argv starting with "ffmpeg"
    output: Path  # the main output: the file, the (master) playlist or the MPD
    out_dir: Path  # every file ffmpeg writes lands here, beside the main output
    packaging: Packaging = field(default_factory=lambda: Packaging(format="mp4"))
    renditions: tuple[Rendition, ...] = ()
    thumbnails: thumbnails.Thumbnails | None = None
    basename: str = ""

    @property
    def encryption(self) -> Encryption | None:
        return self.packaging.encryption


@dataclass(frozen=True)
class OutputGroup:
    """One output as v1's query_task lists it: its entry file, and the renditions or images."""

    format: str  # mp4 | flv | hls | dash | jpg
    output: Path
    seg_type: str = ""
    seg_time: float = 0.0
    encryption: str = ""
    renditions: tuple[dict[str, Any], ...] = ()  # resolution, bitrate (kbit/s), playlist
    files: tuple[Path, ...] = ()  # thumbnails

    def to_json(self, key_of: Callable[[Path], str]) -> dict[str, Any]:
        """JSON for task.media, with object keys (`key_of`) instead of local paths."""
        renditions = [
            {k: key_of(v) if isinstance(v, Path) else v for k, v in item.items()}
            for item in self.renditions
        ]
        return {
            "format": self.format,
            "seg_type": self.seg_type,
            "seg_time": self.seg_time,
            "key": key_of(self.output),
            "encryption": self.encryption,
            "renditions": renditions,
            "keys": [key_of(path) for path in self.files],
        }


@dataclass(frozen=True)
class Finished:
    info: MediaInfo  # the main output, measured before encryption
    groups: tuple[OutputGroup, ...]


def build_plan(
    spec: TemplateSpec,
    *,
    input_path: Path,
    out_dir: Path,
    basename: str,
    source: MediaInfo,
    logo_path: Path | None = None,
    preset: str = "veryfast",
    progress: str | None = "pipe:1",
    media_key_url: str = "",
    max_pixel_rate: int | None = None,
) -> EncodePlan:
    """The ffmpeg command turning `input_path` into `out_dir/basename.<mp4|m3u8|flv|mpd>`.

    `basename` is a plain file name without suffix, `/` or `%` (ffmpeg 5.1's hls and image2
    muxers cannot escape `%` in paths, so out_dir has none either; DASH also refuses `$`,
    its segment-template character); `out_dir` must exist
    when the command runs. `media_key_url` is where players fetch an AES-128 key the emulator
    made (encryption without key_url). Raises TaskFailed 2003 for an output pixel rate over
    `max_pixel_rate` (pixels/s, all renditions) or a thumbnail start past the input's end, 2007
    for what is not emulated (h265 in flv, DRM, encryption other than aes-128). `spec` is
    already checked (TemplateSpec.from_task names a bad field).
    """
    fmt = spec.format
    forbidden = "/%$" if fmt == "dash" else "/%"
    if not basename or any(c in basename for c in forbidden) or basename in {".", ".."}:
        raise ValueError(f"basename must be a plain file name without {forbidden!r}: {basename!r}")
    renditions = ladder.renditions(spec)
    # Checked before ffmpeg starts: an oversized output takes ffmpeg to gigabytes in seconds.
    if max_pixel_rate and (excess := ladder.pixel_rate_excess(renditions, source, max_pixel_rate)):
        raise TaskFailed(TRANSCODE_FAILED, excess)
    if fmt == "flv" and any(r.vcodec == "h265" for r in renditions):
        raise TaskFailed(
            NOT_EMULATED, "h265 in flv is not emulated (ffmpeg 5.1 cannot mux HEVC into FLV)"
        )
    package = packaging.parse(spec, media_key_url=media_key_url)
    snapshots = thumbnails.parse(spec.thumbnail, source)
    out_dir = out_dir.resolve()
    if (package.segmented or snapshots) and "%" in str(out_dir):
        raise ValueError(f"out_dir of an {fmt} or thumbnail plan cannot contain '%': {out_dir}")
    args = graph.compile_args(
        spec,
        renditions=renditions,
        package=package,
        snapshots=snapshots,
        source=source,
        input_path=input_path,
        logo_path=logo_path,
        out_dir=out_dir,
        basename=basename,
        preset=preset,
        progress=progress,
    )
    return EncodePlan(
        args=args,
        output=out_dir / f"{basename}{SUFFIXES[fmt]}",
        out_dir=out_dir,
        packaging=package,
        renditions=renditions,
        thumbnails=snapshots,
        basename=basename,
    )


def written_files(plan: EncodePlan) -> list[Path]:
    """Every file the plan's run wrote, main output first; TaskFailed 2003 if one is missing.

    ffmpeg 5.1's hls muxer logs an error but still exits 0 when it cannot write a segment,
    so a zero exit alone does not prove the output is complete.
    """
    files = [plan.output]
    if plan.output.is_file() and plan.packaging.format == "hls":
        files += playlist_segments(plan.output)
    elif plan.output.is_file() and plan.packaging.format == "dash":
        files += mpd_segments(plan.output)
    for path in files:
        if not path.is_file() or path.stat().st_size == 0:
            raise TaskFailed(TRANSCODE_FAILED, f"ffmpeg exited 0 but did not write {path.name}")
    if plan.thumbnails is not None:
        snapshots = thumbnails.written(plan.out_dir, plan.basename)
        if not snapshots:
            raise TaskFailed(TRANSCODE_FAILED, "ffmpeg exited 0 but wrote no thumbnail")
        files += snapshots
    if plan.encryption is not None:
        for playlist in packaging.media_playlists(plan.output):
            if not packaging.is_encrypted(playlist):
                raise TaskFailed(
                    TRANSCODE_FAILED, f"{playlist.name} is not encrypted yet (finish() not run)"
                )
    return files


def finish(plan: EncodePlan, *, probed: MediaInfo | None = None) -> Finished:
    """After a successful run: measure, set HLS master bandwidths, encrypt; the output groups.

    A ladder's info is its first rendition's picture with the size and bitrate of the whole
    ladder (every segment of every rendition). `probed` is probe(plan.output) when the caller
    ran it already (for a plan that finish() does not rewrite, see rewrites_outputs).
    """
    package = plan.packaging
    if package.master:
        names = [f"{plan.basename}_{index}.m3u8" for index in range(len(plan.renditions))]
        packaging.complete_master(plan.output, names)
        variants = packaging.media_playlists(plan.output)
        measured = {path.name: packaging.measure_variant(path) for path in variants}
        packaging.set_measured_bandwidth(plan.output, measured)
        first = probe(variants[0])  # one ffprobe: the master's would open every variant
        size = sum(p.stat().st_size for p in playlist_segments(plan.output) if p.suffix != ".m3u8")
        bitrate = size * 8 / first.duration / 1000 if first.duration > 0 else 0.0
        info = replace(first, size=size, bitrate_kbps=bitrate, format_name="hls")
    else:
        info = probed or probe(plan.output)
    renditions = packaging.rendition_outputs(package, plan.output)
    if not renditions:
        renditions = [{"resolution": f"{info.width}x{info.height}", "bitrate": info.bitrate_kbps}]
    for rendition, settings in zip(renditions, plan.renditions, strict=False):
        rendition["video_codec"] = ladder.CODEC_NAMES[settings.vcodec]
    if plan.encryption is not None:
        for playlist in packaging.media_playlists(plan.output):
            packaging.encrypt_playlist(playlist, plan.encryption)
    groups = [
        OutputGroup(
            format=package.format,
            output=plan.output,
            seg_type=package.seg_type,
            seg_time=package.seg_time,
            encryption=plan.encryption.mode if plan.encryption else "",
            renditions=tuple(renditions),
        )
    ]
    if plan.thumbnails is not None:
        snapshots = thumbnails.written(plan.out_dir, plan.basename)
        groups.append(OutputGroup(format="jpg", output=snapshots[0], files=tuple(snapshots)))
    return Finished(info=info, groups=tuple(groups))


def rewrites_outputs(plan: EncodePlan) -> bool:
    """Whether finish() changes files (HLS master bandwidths, AES-128 segments).

    Otherwise the files are final once ffmpeg exits: the prober only reads the main output.
    """
    return plan.packaging.master or plan.encryption is not None


def describe_command(args: list[str]) -> str:
    """The command as one shell-quoted line, for logs and the dashboard."""
    return shlex.join(args)
