"""build_plan(): template fields (read as a task's snapshot) -> ffmpeg arguments, checked as
lists and by real runs."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import NOT_EMULATED, TRANSCODE_FAILED, TaskFailed
from emulator.template_spec import TemplateSpec
from emulator.transcode.clips import make_clip, make_logo
from emulator.transcode.command import (
    QUALITY_TO_CRF,
    EncodePlan,
    build_plan,
    describe_command,
    written_files,
)
from emulator.transcode.probe import MediaInfo, probe
from emulator.transcode.runner import run_ffmpeg

SOURCE = MediaInfo(
    duration=1.0,
    width=160,
    height=120,
    bitrate_kbps=300.0,
    video_bitrate_kbps=240.0,
    audio_bitrate_kbps=60.0,
    video_codec="h264",
    audio_codec="aac",
    framerate=15.0,
    size=37_500,
    has_audio=True,
    sample_rate=44100,
    channels=1,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
)


def plan_for(template: dict[str, Any], source: MediaInfo = SOURCE, **kwargs: Any) -> EncodePlan:
    options: dict[str, Any] = {
        "input_path": Path("/media/in.mp4"),
        "out_dir": Path("/media/out"),
        "basename": "out",
        "source": source,
        **kwargs,
    }
    return build_plan(TemplateSpec.from_task(template), **options)


def option(args: list[str], flag: str) -> str:
    """The value following `flag` in an argument list."""
    return args[args.index(flag) + 1]


def transcode(template: dict[str, Any], clip: Path, out_dir: Path, **kwargs: Any) -> EncodePlan:
    out_dir.mkdir(parents=True, exist_ok=True)
    source = probe(clip)
    plan = build_plan(
        TemplateSpec.from_task(template),
        input_path=clip,
        out_dir=out_dir,
        basename="out",
        source=source,
        **kwargs,
    )
    run_ffmpeg(plan.args, duration_s=source.duration)
    return plan


def stream_field(path: Path, field: str) -> str:
    """One field of the first video stream, straight from ffprobe."""
    select = ["-select_streams", "v:0", "-show_entries", f"stream={field}", "-of", "json"]
    done = subprocess.run(
        ["ffprobe", "-v", "error", *select, str(path)], capture_output=True, check=True
    )
    return str(json.loads(done.stdout)["streams"][0][field])


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    return make_clip(media / "clip.mp4")


@pytest.fixture(scope="module")
def wide_clip(media: Path) -> Path:
    return make_clip(media / "wide.mp4", size="320x180")


# --- arguments --------------------------------------------------------------------------


def test_default_template_is_h264_crf_mp4_with_aac() -> None:
    plan = plan_for({})

    assert plan.args[0] == "ffmpeg"
    assert plan.output == Path("/media/out/out.mp4")
    assert plan.out_dir == Path("/media/out")
    assert plan.args[plan.args.index("-i") + 1] == "/media/in.mp4"
    assert option(plan.args, "-c:v") == "libx264"
    assert option(plan.args, "-crf") == "28"
    assert option(plan.args, "-preset") == "veryfast"
    assert option(plan.args, "-pix_fmt") == "yuv420p"
    assert option(plan.args, "-f") == "mp4"
    assert option(plan.args, "-movflags") == "+faststart"
    assert option(plan.args, "-c:a") == "aac"
    assert option(plan.args, "-b:a") == "64000"
    assert "-filter_complex" not in plan.args
    assert option(plan.args, "-map") == "0:v:0"


def test_global_options_are_quiet_and_stream_progress() -> None:
    args = plan_for({}).args

    for flag in ("-nostdin", "-hide_banner", "-y", "-nostats"):
        assert flag in args
    assert option(args, "-loglevel") == "error"
    assert option(args, "-progress") == "pipe:1"


def test_progress_none_leaves_out_the_progress_stream() -> None:
    args = plan_for({}, progress=None).args

    assert "-progress" not in args
    assert "-nostats" not in args


@pytest.mark.parametrize(("quality", "crf"), [(1, "40"), (5, "28"), ("7", "24"), (10, "18")])
def test_quality_picks_the_crf(quality: int | str, crf: str) -> None:
    assert option(plan_for({"quality": quality}).args, "-crf") == crf


def test_quality_to_crf_table_is_monotonic() -> None:
    assert sorted(QUALITY_TO_CRF) == list(range(1, 11))
    crfs = [QUALITY_TO_CRF[quality] for quality in range(1, 11)]
    assert crfs == sorted(crfs, reverse=True)
    assert len(set(crfs)) == 10


@pytest.mark.parametrize("fmt", ["mp4", "hls"])
def test_h265_adds_four_to_crf_and_tags_hvc1(fmt: str) -> None:
    args = plan_for({"vcodec": "h265", "quality": 5, "format": fmt}).args

    assert option(args, "-c:v") == "libx265"
    assert option(args, "-crf") == "32"
    assert option(args, "-tag:v") == "hvc1"
    assert option(args, "-x265-params") == "log-level=error"


def test_h265_in_flv_is_not_emulated() -> None:
    with pytest.raises(TaskFailed) as caught:
        plan_for({"vcodec": "h265", "format": "flv"})

    assert caught.value.err_code == NOT_EMULATED
    assert "h265 in flv" in caught.value.message


def test_video_bitrate_switches_to_bitrate_mode() -> None:
    args = plan_for({"video_bitrate": 800, "quality": 9}).args

    assert option(args, "-b:v") == "800k"
    assert option(args, "-maxrate") == "800k"
    assert option(args, "-bufsize") == "1600k"
    assert "-crf" not in args


@pytest.mark.parametrize(
    ("resolution", "graph"),
    [("360p", "[0:v:0]scale=-2:360[s0]"), ("640x360", "[0:v:0]scale=640:360[s0]")],
)
def test_resolution_scales_the_video(resolution: str, graph: str) -> None:
    args = plan_for({"resolution": resolution}).args

    assert option(args, "-filter_complex") == graph
    assert option(args, "-map") == "[s0]"


@pytest.mark.parametrize("resolution", ["", "0", None])
def test_empty_resolution_keeps_the_source_size(resolution: str | None) -> None:
    assert "-filter_complex" not in plan_for({"resolution": resolution}).args


def test_odd_source_size_is_rounded_down_to_even() -> None:
    args = plan_for({}, source=replace(SOURCE, width=161, height=121)).args

    assert option(args, "-filter_complex") == "[0:v:0]scale=trunc(iw/2)*2:trunc(ih/2)*2[s0]"


def test_framerate_sets_the_output_rate() -> None:
    assert option(plan_for({"framerate": 10}).args, "-r") == "10"
    assert "-r" not in plan_for({"framerate": 0}).args


def test_source_without_audio_drops_audio() -> None:
    args = plan_for({}, source=replace(SOURCE, has_audio=False)).args

    assert "-an" in args
    assert "-c:a" not in args
    assert "0:a:0" not in args


def test_hls_writes_a_vod_playlist_and_numbered_segments() -> None:
    plan = plan_for({"format": "hls"})

    assert plan.output == Path("/media/out/out.m3u8")
    assert option(plan.args, "-f") == "hls"
    assert option(plan.args, "-hls_time") == "4"
    assert option(plan.args, "-hls_playlist_type") == "vod"
    assert option(plan.args, "-hls_segment_filename") == "/media/out/out_%05d.ts"
    assert "/media/out/out.m3u8" in plan.args


def test_flv_uses_the_flv_muxer() -> None:
    plan = plan_for({"format": "flv"})

    assert plan.output == Path("/media/out/out.flv")
    assert option(plan.args, "-f") == "flv"
    assert "-movflags" not in plan.args


def test_logo_is_scaled_then_overlaid_at_the_offset() -> None:
    template = {"resolution": "360p", "logo_size": "32x32", "logo_offset": "8:8"}
    plan = plan_for(template, logo_path=Path("/media/logo.png"))

    assert plan.args.count("-i") == 2
    assert option(plan.args, "-filter_complex") == (
        "[0:v:0]scale=-2:360[s0];[1:v:0]scale=32:32[s1];"
        "[s0][s1]overlay=eof_action=repeat:x=8:y=8[s2]"
    )


@pytest.mark.parametrize(
    ("offset", "overlay"),
    [
        ("", "x=0:y=0"),
        ("x=(W-w)/2:y=(H-h)/2", "x=(W-w)/2:y=(H-h)/2"),
        ("W-w-10:H-h-10", "x=W-w-10:y=H-h-10"),
        ("y=5", "x=0:y=5"),
    ],
)
def test_logo_offset_accepts_pixels_and_expressions(offset: str, overlay: str) -> None:
    plan = plan_for({"logo_offset": offset}, logo_path=Path("/media/logo.png"))

    assert option(plan.args, "-filter_complex").endswith(f"overlay=eof_action=repeat:{overlay}[s0]")


def test_logo_fields_without_a_logo_file_change_nothing() -> None:
    assert "-filter_complex" not in plan_for({"logo_size": "32x32", "logo_offset": "8:8"}).args


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("resolution", "720q"),
        ("resolution", "641x360"),
        ("resolution", "359p"),
        ("resolution", "99999p"),
        ("quality", 0),
        ("quality", 11),
        ("quality", "best"),
        ("quality", True),
        ("framerate", 121),
        ("format", "avi"),
        ("vcodec", "vp9"),
        ("acodec", "mp3"),
        ("audio_bitrate", -1),
        ("logo_size", "big"),
        ("logo_offset", "1;2"),
        ("logo_offset", "[x]:0"),
        ("logo_offset", "z=3"),
    ],
)
def test_invalid_field_fails_naming_it(field: str, value: Any) -> None:
    with pytest.raises(TaskFailed) as caught:
        plan_for({field: value}, logo_path=Path("/media/logo.png"))

    assert caught.value.err_code == TRANSCODE_FAILED
    assert f"template field {field} is invalid" in caught.value.message


def test_acc_is_read_as_aac() -> None:
    assert option(plan_for({"acodec": "acc"}).args, "-c:a") == "aac"


@pytest.mark.parametrize("basename", ["", "a/b", "50%", ".."])
def test_basename_must_be_a_plain_name(basename: str) -> None:
    with pytest.raises(ValueError, match="basename"):
        plan_for({}, basename=basename)


def test_describe_command_round_trips_through_a_shell() -> None:
    args = plan_for({"logo_offset": "x=(W-w)/2:y=(H-h)/2"}, logo_path=Path("/m/l o.png")).args

    assert shlex.split(describe_command(args)) == args


# --- real runs ------------------------------------------------------------------------


def test_height_resolution_keeps_aspect_ratio(wide_clip: Path, tmp_path: Path) -> None:
    plan = transcode({"resolution": "360p"}, wide_clip, tmp_path)

    info = probe(plan.output)
    assert (info.width, info.height) == (640, 360)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert written_files(plan) == [plan.output]


def test_size_resolution_is_exact(clip: Path, tmp_path: Path) -> None:
    plan = transcode({"resolution": "200x100", "framerate": 10}, clip, tmp_path)

    info = probe(plan.output)
    assert (info.width, info.height) == (200, 100)
    assert info.framerate == pytest.approx(10.0)


def test_h265_mp4_is_tagged_hvc1(clip: Path, tmp_path: Path) -> None:
    plan = transcode({"vcodec": "h265"}, clip, tmp_path)

    assert probe(plan.output).video_codec == "hevc"
    assert stream_field(plan.output, "codec_tag_string") == "hvc1"


def test_hls_playlist_names_segments_relative(media: Path, tmp_path: Path) -> None:
    clip = make_clip(media / "nine.mp4", duration=9)
    plan = transcode({"format": "hls"}, clip, tmp_path / "hls")

    playlist = plan.output.read_text()
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert segments == ["out_00000.ts", "out_00001.ts", "out_00002.ts"]  # 4 + 4 + 1 s
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
    assert "#EXT-X-ENDLIST" in playlist
    files = written_files(plan)
    assert files == [plan.output] + [plan.out_dir / name for name in segments]
    assert sorted(p.name for p in plan.out_dir.iterdir()) == sorted(p.name for p in files)
    info = probe(plan.output)
    assert info.format_name == "hls"
    assert info.duration == pytest.approx(9.0, abs=0.2)
    assert info.size == sum(p.stat().st_size for p in files[1:])


def test_missing_hls_segment_is_reported(media: Path, tmp_path: Path) -> None:
    plan = transcode({"format": "hls"}, make_clip(media / "one.mp4"), tmp_path / "hls")
    (plan.out_dir / "out_00000.ts").unlink()

    with pytest.raises(TaskFailed) as caught:
        written_files(plan)

    assert caught.value.err_code == TRANSCODE_FAILED
    assert "out_00000.ts" in caught.value.message


def test_flv_output(clip: Path, tmp_path: Path) -> None:
    plan = transcode({"format": "flv"}, clip, tmp_path)

    info = probe(plan.output)
    assert info.format_name == "flv"
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")


def test_clip_without_audio_gives_output_without_audio(media: Path, tmp_path: Path) -> None:
    silent = make_clip(media / "silent.mp4", audio=False)
    plan = transcode({}, silent, tmp_path)

    assert not probe(plan.output).has_audio


def test_logo_is_drawn_at_the_offset(media: Path, tmp_path: Path) -> None:
    black = make_clip(media / "black.mp4", video_source="color=c=black", audio=False)
    logo = make_logo(media / "logo.png", size="16x16", color="red")
    template = {"quality": 10, "logo_offset": "8:8"}
    plan = transcode(template, black, tmp_path, logo_path=logo)

    first_frame = ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    frame = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(plan.output), *first_frame],
        capture_output=True,
        check=True,
    ).stdout
    width = 160

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        offset = (y * width + x) * 3
        red, green, blue = frame[offset : offset + 3]
        return red, green, blue

    red, green, blue = pixel(12, 12)
    assert red > 180 and green < 80 and blue < 80
    assert max(pixel(40, 40)) < 40
