"""The compiled ffmpeg argument list of each template feature, one golden list per feature.

These are what `graph.compile_args` makes from an ffmpeg-python graph; tests/transcode/
test_media.py and test_command.py run the same features through real ffmpeg.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator.template_spec import TemplateSpec
from emulator.transcode.command import build_plan
from emulator.transcode.demuxers import INPUT_FORMATS
from emulator.transcode.graph import stream_option
from emulator.transcode.probe import MediaInfo

SOURCE = MediaInfo(
    duration=2.0,
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
LADDER = [{"resolution": "120p", "video_bitrate": 300}, {"resolution": "60p", "vcodec": "h265"}]
# Every input gets the demuxer whitelist as an input option, before its -i.
WHITELIST = ["-format_whitelist", INPUT_FORMATS]
# ffmpeg-python writes global arguments last; ffmpeg reads global options anywhere.
GLOBAL = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
PROGRESS = ["-progress", "pipe:1", "-nostats"]


def golden(command: str, graph: list[str]) -> list[str]:
    """A golden list written as a command, one option a line; $GRAPH is the filtergraph,
    given chain by chain."""
    named = {"$WHITELIST": WHITELIST, "$GLOBAL": GLOBAL, "$PROGRESS": PROGRESS}
    named["$GRAPH"] = [";".join(graph)]
    return [arg for word in shlex.split(command) for arg in named.get(word, [word])]


CASES = [
    pytest.param(
        {},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="default_mp4",
    ),
    pytest.param(
        {"resolution": "96p"},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -filter_complex
        $GRAPH
        -map '[s0]'
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        ["[0:v:0]scale=-2:96[s0]"],
        id="resolution_scales",
    ),
    pytest.param(
        {"vcodec": "h265", "quality": 7},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx265
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        -tag:v hvc1
        -x265-params log-level=error
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="h265_crf_and_hvc1",
    ),
    pytest.param(
        {"video_bitrate": 500},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -b:a 64000
        -b:v 500k
        -bufsize 1000k
        -c:a aac
        -c:v libx264
        -maxrate 500k
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="video_bitrate",
    ),
    pytest.param(
        {"framerate": 10},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        -r 10
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="framerate",
    ),
    pytest.param(
        {"logo_size": "16x16", "logo_offset": "x=(W-w)/2:y=max(0,H-h-4)"},
        {"logo": True},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        $WHITELIST
        -i /m/logo.png
        -filter_complex
        $GRAPH
        -map '[s1]'
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [
            "[1:v:0]scale=16:16[s0]",
            "[0:v:0][s0]overlay=eof_action=repeat:x=(W-w)/2:y=max(0\\,H-h-4)[s1]",
        ],
        id="logo_scaled_and_overlaid",
    ),
    pytest.param(
        {
            "format": "hls",
            "adaptive_streams": [
                {"resolution": "120p", "video_bitrate": 300},
                {"resolution": "60p", "vcodec": "h265"},
            ],
        },
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -filter_complex
        $GRAPH
        -map '[s2]'
        -map '[s3]'
        -map 0:a:0
        -map 0:a:0
        -f hls
        -b:a:0 64000
        -b:a:1 64000
        -b:v:0 300k
        -bufsize:v:0 600k
        -c:a aac
        -c:v:0 libx264
        -c:v:1 libx265
        -crf:v:1 32
        -force_key_frames 'expr:gte(t,n_forced*4)'
        -hls_list_size 0
        -hls_playlist_type vod
        -hls_segment_filename /m/out/out_%v_%05d.ts
        -hls_time 4
        -master_pl_name out.m3u8
        -maxrate:v:0 300k
        -pix_fmt yuv420p
        -preset:v:0 veryfast
        -preset:v:1 veryfast
        -tag:v:1 hvc1
        -var_stream_map 'v:0,a:0 v:1,a:1'
        -x265-params:v:1 log-level=error
        /m/out/out_%v.m3u8
        $GLOBAL
        $PROGRESS
        """,
        ["[0:v:0]split=2[s0][s1]", "[s0]scale=-2:120[s2]", "[s1]scale=-2:60[s3]"],
        id="hls_ladder_splits_once",
    ),
    pytest.param(
        {
            "format": "hls",
            "adaptive_streams": [
                {"resolution": "120p", "video_bitrate": 300},
                {"resolution": "60p", "vcodec": "h265"},
            ],
            "logo_offset": "4:4",
        },
        {"logo": True},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        $WHITELIST
        -i /m/logo.png
        -filter_complex
        $GRAPH
        -map '[s5]'
        -map '[s7]'
        -map 0:a:0
        -map 0:a:0
        -f hls
        -b:a:0 64000
        -b:a:1 64000
        -b:v:0 300k
        -bufsize:v:0 600k
        -c:a aac
        -c:v:0 libx264
        -c:v:1 libx265
        -crf:v:1 32
        -force_key_frames 'expr:gte(t,n_forced*4)'
        -hls_list_size 0
        -hls_playlist_type vod
        -hls_segment_filename /m/out/out_%v_%05d.ts
        -hls_time 4
        -master_pl_name out.m3u8
        -maxrate:v:0 300k
        -pix_fmt yuv420p
        -preset:v:0 veryfast
        -preset:v:1 veryfast
        -tag:v:1 hvc1
        -var_stream_map 'v:0,a:0 v:1,a:1'
        -x265-params:v:1 log-level=error
        /m/out/out_%v.m3u8
        $GLOBAL
        $PROGRESS
        """,
        [
            "[0:v:0]split=2[s0][s1]",
            "[s0]scale=-2:120[s2]",
            "[1:v:0]split=2[s3][s4]",
            "[s2][s3]overlay=eof_action=repeat:x=4:y=4[s5]",
            "[s1]scale=-2:60[s6]",
            "[s6][s4]overlay=eof_action=repeat:x=4:y=4[s7]",
        ],
        id="ladder_with_logo",
    ),
    pytest.param(
        {
            "format": "dash",
            "seg_time": 1,
            "adaptive_streams": [
                {"resolution": "120p", "video_bitrate": 300},
                {"resolution": "60p", "vcodec": "h265"},
            ],
        },
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -filter_complex
        $GRAPH
        -map '[s2]'
        -map '[s3]'
        -map 0:a:0
        -f dash
        -adaptation_sets 'id=0,streams=v id=1,streams=a'
        -b:a 64000
        -b:v:0 300k
        -bufsize:v:0 600k
        -c:a aac
        -c:v:0 libx264
        -c:v:1 libx265
        -crf:v:1 32
        -force_key_frames 'expr:gte(t,n_forced*1)'
        -init_seg_name 'out_init_$RepresentationID$.m4s'
        -maxrate:v:0 300k
        -media_seg_name 'out_chunk_$RepresentationID$_$Number%05d$.m4s'
        -pix_fmt yuv420p
        -preset:v:0 veryfast
        -preset:v:1 veryfast
        -seg_duration 1
        -tag:v:1 hvc1
        -use_template 1
        -use_timeline 1
        -x265-params:v:1 log-level=error
        /m/out/out.mpd
        $GLOBAL
        $PROGRESS
        """,
        ["[0:v:0]split=2[s0][s1]", "[s0]scale=-2:120[s2]", "[s1]scale=-2:60[s3]"],
        id="dash_ladder",
    ),
    pytest.param(
        {"thumbnail": {"start_point": 1, "interval": 1, "number": 2, "width": 64}},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -filter_complex
        $GRAPH
        -map '[s0]'
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        -map '[s3]'
        -f image2
        -c:v mjpeg
        -fps_mode vfr
        -frames:v 2
        -q:v 2
        /m/out/out_thumb_%05d.jpg
        $GLOBAL
        $PROGRESS
        """,
        [
            "[0:v:0]split=2[s0][s1]",
            "[s1]select=gte(t\\,1+selected_n*1-0.001)[s2]",
            "[s2]scale=64:-2[s3]",
        ],
        id="thumbnails",
    ),
    pytest.param(
        {"gop_seconds": 2},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -g 30
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        -sc_threshold 0
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="gop_seconds",
    ),
    pytest.param(
        {"format": "hls", "seg_type": "fmp4", "seg_time": 2},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f hls
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -force_key_frames 'expr:gte(t,n_forced*2)'
        -hls_fmp4_init_filename out_init.mp4
        -hls_list_size 0
        -hls_playlist_type vod
        -hls_segment_filename /m/out/out_%05d.m4s
        -hls_segment_type fmp4
        -hls_time 2
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.m3u8
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="hls_fmp4_segments",
    ),
    pytest.param(
        {"audio_sample_rate": "48k", "audio_channels": 2, "audio_bitrate": 96000},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -ac 2
        -ar 48000
        -b:a 96000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="audio_layout",
    ),
    pytest.param(
        {},
        {"silent": True},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -f mp4
        -an -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="source_without_audio",
    ),
    pytest.param(
        {"format": "flv"},
        {},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f flv
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.flv
        $GLOBAL
        $PROGRESS
        """,
        [],
        id="flv",
    ),
    pytest.param(
        {},
        {"progress": None},
        """
        ffmpeg
        $WHITELIST
        -i /m/in.mp4
        -map 0:v:0
        -map 0:a:0
        -f mp4
        -b:a 64000
        -c:a aac
        -c:v libx264
        -crf 28
        -movflags +faststart
        -pix_fmt yuv420p
        -preset veryfast
        /m/out/out.mp4
        $GLOBAL
        """,
        [],
        id="no_progress",
    ),
]


def compiled(template: dict[str, Any], options: dict[str, Any]) -> list[str]:
    source = replace(SOURCE, has_audio=False) if options.get("silent") else SOURCE
    extra: dict[str, Any] = {}
    if options.get("logo"):
        extra["logo_path"] = Path("/m/logo.png")
    if "progress" in options:
        extra["progress"] = options["progress"]
    plan = build_plan(
        TemplateSpec.from_task(template),
        input_path=Path("/m/in.mp4"),
        out_dir=Path("/m/out"),
        basename="out",
        source=source,
        media_key_url="http://k/",
        **extra,
    )
    return plan.args


@pytest.mark.parametrize(("template", "options", "command", "graph"), CASES)
def test_compiled_arguments(
    template: dict[str, Any], options: dict[str, Any], command: str, graph: list[str]
) -> None:
    assert compiled(template, options) == golden(command, graph)


def test_encryption_leaves_the_command_as_plain_hls() -> None:
    """AES-128 is applied to the segments after ffmpeg (packaging.encrypt_playlist)."""
    encrypted = compiled({"format": "hls", "encryption": {"mode": "aes-128"}}, {})

    assert encrypted == compiled({"format": "hls"}, {})


def test_every_input_option_precedes_its_input() -> None:
    args = compiled({}, {"logo": True})

    for name in ("/m/in.mp4", "/m/logo.png"):
        at = args.index(name)
        assert args[at - 3 : at] == [*WHITELIST, "-i"]


@pytest.mark.parametrize(
    ("name", "index", "spelled"),
    [("crf", None, "crf"), ("crf", 1, "crf:v:1"), ("c:v", 0, "c:v:0"), ("tag:v", 2, "tag:v:2")],
)
def test_stream_option_names_a_video_stream(name: str, index: int | None, spelled: str) -> None:
    assert stream_option(name, index) == spelled
