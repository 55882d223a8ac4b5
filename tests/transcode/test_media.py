"""Current-generation media from build_plan + run_ffmpeg + finish, checked with ffprobe."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import NOT_EMULATED, TRANSCODE_FAILED, TaskFailed
from emulator.template_spec import TemplateSpec
from emulator.transcode.clips import make_clip, make_logo
from emulator.transcode.command import EncodePlan, Finished, build_plan, finish, written_files
from emulator.transcode.probe import probe
from emulator.transcode.runner import run_ffmpeg
from emulator.v1.params import normalize

KEY_URL = "http://keys.example/k"
MPD = "{urn:mpeg:dash:schema:mpd:2011}"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s, 320x240 at 25 fps, mono 44.1 kHz audio."""
    return make_clip(
        tmp_path_factory.mktemp("media") / "clip.mp4", size="320x240", rate=25, duration=3
    )


def plan(template: dict[str, Any], clip: Path, out_dir: Path, **kwargs: Any) -> EncodePlan:
    out_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"preset": "ultrafast", "progress": None, **kwargs}
    return build_plan(
        TemplateSpec.from_task(normalize(template)),  # as v1 stores it
        input_path=clip,
        out_dir=out_dir,
        basename="out",
        source=probe(clip),
        media_key_url="http://emulator.test/_emulator/media-keys/t1",
        **options,
    )


def transcode(template: dict[str, Any], clip: Path, out_dir: Path) -> tuple[EncodePlan, Finished]:
    made = plan(template, clip, out_dir)
    run_ffmpeg(made.args, duration_s=3.0)
    return made, finish(made)


def ffprobe(path: Path, *args: str) -> Any:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-allowed_extensions", "ALL", "-protocol_whitelist",
         "file,crypto", *args, "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def keyframe_times(path: Path) -> list[float]:
    report = ffprobe(
        path, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time"
    )
    return [float(frame["pts_time"]) for frame in report["frames"]]


def video_kbps(path: Path) -> float:
    """Video payload bitrate (packets only, no container overhead)."""
    report = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=size")
    return sum(int(p["size"]) for p in report["packets"]) * 8 / 3.0 / 1000


def uris(playlist: Path) -> list[str]:
    return [line for line in playlist.read_text().splitlines() if line and line[0] != "#"]


def packaging_variants(made: EncodePlan) -> list[Path]:
    return [made.out_dir / name for name in uris(made.output)]


def gaps(times: list[float]) -> list[float]:
    return [round(later - earlier, 3) for earlier, later in itertools.pairwise(times)]


def timeline_seconds(segment_template: ElementTree.Element) -> list[float]:
    """Segment durations of a DASH SegmentTemplate's SegmentTimeline."""
    timescale = int(segment_template.get("timescale", "1"))
    return [
        int(entry.get("d", "0")) / timescale
        for entry in segment_template.iter(f"{MPD}S")
        for _ in range(int(entry.get("r", "0")) + 1)
    ]


def extinf(playlist: Path) -> list[float]:
    return [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", playlist.read_text())]


# --- the ladder -------------------------------------------------------------------------

LADDER = [
    {"resolution": "240p", "video_bitrate": 500},
    {"resolution": "180p", "video_bitrate": 250},
    {"resolution": "120p", "quality": 3},
]


def test_ladder_is_one_ffmpeg_run_decoding_the_input_once(clip: Path, tmp_path: Path) -> None:
    args = plan({"format": "hls", "adaptive_streams": LADDER}, clip, tmp_path).args

    assert args.count("-i") == 1
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]split=3[s0][s1][s2];")
    assert args[args.index("-var_stream_map") + 1] == "v:0,a:0 v:1,a:1 v:2,a:2"
    assert args[args.index("-b:v:0") + 1] == "500k"
    assert args[args.index("-crf:v:2") + 1] == "34"


def test_hls_ladder_is_a_master_over_one_variant_per_rendition(clip: Path, tmp_path: Path) -> None:
    made, done = transcode({"format": "hls", "adaptive_streams": LADDER}, clip, tmp_path)

    master = made.output.read_text()
    assert made.output.name == "out.m3u8"
    assert uris(made.output) == ["out_0.m3u8", "out_1.m3u8", "out_2.m3u8"]
    assert re.findall(r"RESOLUTION=(\d+x\d+)", master) == ["320x240", "240x180", "160x120"]
    bandwidths = [int(x) for x in re.findall(r"[^-]BANDWIDTH=(\d+)", master)]
    assert bandwidths == sorted(bandwidths, reverse=True)  # measured, not the audio's 64k
    for index, (rendition, size) in enumerate(zip(LADDER, [240, 180, 120], strict=True)):
        variant = tmp_path / f"out_{index}.m3u8"
        assert all((tmp_path / name).is_file() for name in uris(variant))
        info = probe(variant)
        assert (info.height, info.video_codec, info.audio_codec) == (size, "h264", "aac")
        if "video_bitrate" in rendition:
            assert video_kbps(variant) == pytest.approx(rendition["video_bitrate"], rel=0.25)
    assert [g["resolution"] for g in done.groups[0].renditions] == [
        "320x240",
        "240x180",
        "160x120",
    ]
    assert set(written_files(made)) == {p for p in tmp_path.iterdir()}


def test_rendition_fields_inherit_the_template(clip: Path, tmp_path: Path) -> None:
    template = {
        "format": "hls",
        "vcodec": "h265",
        "framerate": 10,
        "adaptive_streams": [{"resolution": "120p"}, {"vcodec": "h264", "framerate": 0}],
    }
    args = plan(template, clip, tmp_path).args

    assert args[args.index("-c:v:0") + 1] == "libx265"
    assert args[args.index("-r:v:0") + 1] == "10"
    assert args[args.index("-c:v:1") + 1] == "libx264"
    assert args[args.index("-r:v:1") + 1] == "10"  # zero means "not given": inherited


def test_ladder_without_audio_maps_video_only(tmp_path: Path) -> None:
    silent = make_clip(tmp_path / "silent.mp4", audio=False)
    template = {
        "format": "hls",
        "adaptive_streams": [{"resolution": "120p"}, {"resolution": "60p"}],
    }
    made, done = transcode(template, silent, tmp_path / "out")

    assert made.args[made.args.index("-var_stream_map") + 1] == "v:0 v:1"
    # ffmpeg 5.1 leaves CRF variants without audio out of its master; finish() writes them.
    assert uris(made.output) == ["out_0.m3u8", "out_1.m3u8"]
    assert 'RESOLUTION=80x60,CODECS="avc1.' in made.output.read_text()
    assert not probe(tmp_path / "out" / "out_1.m3u8").has_audio
    assert [r["resolution"] for r in done.groups[0].renditions] == ["160x120", "80x60"]


def test_logo_is_overlaid_on_every_rendition(clip: Path, tmp_path: Path) -> None:
    logo = make_logo(tmp_path / "logo.png")
    template = {"format": "hls", "logo_size": "8x8", "adaptive_streams": LADDER[1:]}
    made = plan(template, clip, tmp_path / "out", logo_path=logo)
    graph = made.args[made.args.index("-filter_complex") + 1]

    assert "[1:v:0]scale=8:8[s3];[s3]split=2[s4][s5]" in graph  # the logo is decoded once too
    assert graph.count("overlay=eof_action=repeat:x=0:y=0") == 2
    run_ffmpeg(made.args, duration_s=3.0)
    assert len(packaging_variants(made)) == 2


# --- segments ---------------------------------------------------------------------------


def test_hls_fmp4_segments_follow_seg_time(clip: Path, tmp_path: Path) -> None:
    made, _ = transcode({"format": "hls", "seg_type": "fmp4", "seg_time": 1}, clip, tmp_path)

    playlist = made.output.read_text()
    assert '#EXT-X-MAP:URI="out_init.mp4"' in playlist
    assert uris(made.output) == ["out_00000.m4s", "out_00001.m4s", "out_00002.m4s"]
    assert extinf(made.output) == pytest.approx([1.0, 1.0, 1.0], abs=0.05)
    assert probe(made.output).duration == pytest.approx(3.0, abs=0.1)


def test_hls_ts_segments_follow_seg_time(clip: Path, tmp_path: Path) -> None:
    made, _ = transcode({"format": "hls", "seg_type": "ts", "seg_time": 2}, clip, tmp_path)

    assert "#EXT-X-MAP" not in made.output.read_text()
    assert uris(made.output) == ["out_00000.ts", "out_00001.ts"]
    assert extinf(made.output) == pytest.approx([2.0, 1.0], abs=0.05)


def test_dash_mpd_has_a_representation_per_rendition(clip: Path, tmp_path: Path) -> None:
    template = {"format": "dash", "seg_time": 1, "adaptive_streams": LADDER[:2]}
    made, done = transcode(template, clip, tmp_path)

    assert made.output.name == "out.mpd"
    root = ElementTree.parse(made.output).getroot()
    video, audio = root.iter(f"{MPD}AdaptationSet")
    sizes = [(r.get("width"), r.get("height")) for r in video.iter(f"{MPD}Representation")]
    assert sizes == [("320", "240"), ("240", "180")]
    assert len(list(audio.iter(f"{MPD}Representation"))) == 1  # one per distinct bitrate
    for representation in root.iter(f"{MPD}Representation"):
        template_element = representation.find(f"{MPD}SegmentTemplate")
        assert template_element is not None
        rep = representation.get("id", "")
        init = template_element.get("initialization", "").replace("$RepresentationID$", rep)
        assert (tmp_path / init).is_file()
        durations = timeline_seconds(template_element)
        assert len(durations) == len(list(tmp_path.glob(f"out_chunk_{rep}_*.m4s")))
        if representation in list(video.iter(f"{MPD}Representation")):
            assert durations == pytest.approx([1.0, 1.0, 1.0], abs=0.05)
    assert done.groups[0].seg_type == "fmp4"
    assert [r["resolution"] for r in done.groups[0].renditions] == ["320x240", "240x180"]
    assert probe(made.output).format_name == "dash"


# --- GOP, audio ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "interval"),
    [
        ({"gop_size": 10}, 0.4),
        ({"gop_seconds": 1, "framerate": 10}, 1.0),
        ({"gop_size": 15, "vcodec": "h265"}, 0.6),
    ],
)
def test_gop_is_the_keyframe_interval(
    clip: Path, tmp_path: Path, fields: dict[str, Any], interval: float
) -> None:
    made, _ = transcode({"resolution": "120p", **fields}, clip, tmp_path)

    intervals = gaps(keyframe_times(made.output))
    assert intervals and intervals == pytest.approx([interval] * len(intervals), abs=0.01)


def test_gop_seconds_applies_to_every_variant(clip: Path, tmp_path: Path) -> None:
    template = {"format": "hls", "gop_seconds": 1, "seg_time": 2, "adaptive_streams": LADDER[1:]}
    transcode(template, clip, tmp_path)

    for variant in ("out_0.m3u8", "out_1.m3u8"):
        assert gaps(keyframe_times(tmp_path / variant)) == pytest.approx([1.0, 1.0], abs=0.01)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [("48k", "48000"), (48000, "48000"), ("44.1k", "44100"), ("22050", "22050")],
)
def test_audio_sample_rate_forms(
    clip: Path, tmp_path: Path, rate: str | int, expected: str
) -> None:
    args = plan({"audio_sample_rate": rate}, clip, tmp_path).args

    assert args[args.index("-ar") + 1] == expected


def test_audio_sample_rate_and_channels(clip: Path, tmp_path: Path) -> None:
    template = {"resolution": "120p", "audio_sample_rate": "48k", "audio_channels": 2}
    made, _ = transcode(template, clip, tmp_path)

    info = probe(made.output)
    assert (info.sample_rate, info.channels) == (48000, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [("audio_sample_rate", "47k"), ("audio_channels", 9), ("seg_time", 61), ("seg_type", "mkv")],
)
def test_invalid_media_field_fails_naming_it(
    clip: Path, tmp_path: Path, field: str, value: Any
) -> None:
    with pytest.raises(TaskFailed) as caught:
        plan({"format": "hls", field: value}, clip, tmp_path)

    assert caught.value.err_code == TRANSCODE_FAILED
    assert f"template field {field} is invalid" in caught.value.message


# --- thumbnails ---------------------------------------------------------------------------


def test_thumbnails_are_jpegs_at_the_grid(clip: Path, tmp_path: Path) -> None:
    thumbnail = {"start_point": 1, "interval": 1, "number": 5, "width": 64, "height": 48}
    made, done = transcode({"thumbnail": thumbnail}, clip, tmp_path)

    snapshots = sorted(tmp_path.glob("out_thumb_*.jpg"))
    assert [p.name for p in snapshots] == ["out_thumb_00001.jpg", "out_thumb_00002.jpg"]
    for snapshot in snapshots:
        stream = ffprobe(snapshot, "-show_streams")["streams"][0]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 64, 48)
    assert done.groups[1].format == "jpg"
    assert done.groups[1].files == tuple(snapshots)
    assert written_files(made)[-2:] == snapshots
    assert probe(made.output).duration == pytest.approx(3.0, abs=0.1)  # the video is whole


def test_thumbnail_number_without_interval_spreads_them(clip: Path, tmp_path: Path) -> None:
    transcode({"thumbnail": {"number": 3, "width": 80}}, clip, tmp_path)

    snapshots = sorted(tmp_path.glob("out_thumb_*.jpg"))
    assert len(snapshots) == 3
    stream = ffprobe(snapshots[0], "-show_streams")["streams"][0]
    assert (stream["width"], stream["height"]) == (80, 60)  # aspect ratio kept


def test_thumbnail_start_past_the_end_fails(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as caught:
        plan({"thumbnail": {"start_point": 5}}, clip, tmp_path)

    assert "thumbnail.start_point" in caught.value.message


# --- AES-128 ------------------------------------------------------------------------------


@pytest.mark.parametrize("seg_type", ["ts", "fmp4"])
def test_aes128_segments_decode_only_with_the_key(
    clip: Path, tmp_path: Path, seg_type: str
) -> None:
    template = {"format": "hls", "seg_type": seg_type, "encryption": {"mode": "aes-128"}}
    made, done = transcode(template, clip, tmp_path)

    key_line = '#EXT-X-KEY:METHOD=AES-128,URI="http://emulator.test/_emulator/media-keys/t1"'
    assert key_line in made.output.read_text()
    segment = tmp_path / uris(made.output)[0]
    with pytest.raises(subprocess.CalledProcessError):
        ffprobe(segment, "-show_streams")
    assert made.encryption is not None
    (tmp_path / "key.bin").write_bytes(made.encryption.key)
    local = tmp_path / "local.m3u8"
    local.write_text(
        made.output.read_text().replace("http://emulator.test/_emulator/media-keys/t1", "key.bin")
    )
    frames = ffprobe(
        local, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames"
    )
    assert int(frames["streams"][0]["nb_read_frames"]) == 75
    assert done.groups[0].encryption == "aes-128"
    assert "key=" not in repr(made)  # the key stays out of logs


def test_aes128_points_at_key_url_in_every_variant(clip: Path, tmp_path: Path) -> None:
    template = {
        "format": "hls",
        "adaptive_streams": LADDER[1:],
        "encryption": {"mode": "AES-128", "key_url": KEY_URL},
    }
    made, _ = transcode(template, clip, tmp_path)

    for variant in ("out_0.m3u8", "out_1.m3u8"):
        assert f'URI="{KEY_URL}"' in (tmp_path / variant).read_text()
    assert "EXT-X-KEY" not in made.output.read_text()


def test_written_files_refuses_an_unencrypted_output(clip: Path, tmp_path: Path) -> None:
    made = plan({"format": "hls", "encryption": {"mode": "aes-128"}}, clip, tmp_path)
    run_ffmpeg(made.args, duration_s=3.0)

    with pytest.raises(TaskFailed, match="not encrypted"):
        written_files(made)


# --- what is not emulated -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ({"format": "hls", "encryption": {"drm_systems": ["widevine"]}}, "drm_systems (widevine)"),
        ({"format": "hls", "encryption": {"mode": "sample-aes"}}, "mode 'sample-aes'"),
        ({"format": "dash", "encryption": {"mode": "aes-128"}}, "aes-128 with format dash"),
        ({"format": "mp4", "adaptive_streams": LADDER}, "adaptive_streams with format mp4"),
        ({"format": "dash", "seg_type": "ts"}, "seg_type ts with format dash"),
        ({"format": "flv", "adaptive_streams": [{"vcodec": "h265"}]}, "h265 in flv"),
    ],
)
def test_what_is_not_emulated_fails_2007_naming_it(
    clip: Path, tmp_path: Path, template: dict[str, Any], named: str
) -> None:
    with pytest.raises(TaskFailed) as caught:
        plan(template, clip, tmp_path)

    assert caught.value.err_code == NOT_EMULATED
    assert named in caught.value.message


def test_zero_values_mean_not_given(clip: Path, tmp_path: Path) -> None:
    """The Go SDK sends every field; zero ones change nothing."""
    zeros = {
        "format": "mp4",
        "gop_size": 0,
        "gop_seconds": 0,
        "seg_type": "",
        "seg_time": 0,
        "audio_sample_rate": "",
        "audio_channels": 0,
        "adaptive_streams": [],
        "encryption": {"key_url": "", "headers": {}},
        "thumbnail": {"start_point": 0, "number": 0},
    }
    assert plan(zeros, clip, tmp_path).args == plan({}, clip, tmp_path).args
