"""probe(): what a probe says about inputs, and refusing what is not a video (err_code 2002)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode.clips import make_clip, make_logo
from emulator.transcode.probe import probe


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("probe") / "clip.mp4")


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("probe") / "silent.mp4", audio=False)


def test_probe_reads_video_and_audio(clip: Path) -> None:
    info = probe(clip)

    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert (info.width, info.height) == (160, 120)
    assert info.framerate == pytest.approx(15.0)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.has_audio
    assert (info.sample_rate, info.channels) == (44100, 1)
    assert info.size == clip.stat().st_size
    assert info.bitrate_kbps == pytest.approx(info.size * 8 / info.duration / 1000, rel=0.05)
    assert info.video_bitrate_kbps > 0
    assert info.audio_bitrate_kbps > 0
    assert "mp4" in info.format_name


def test_probe_of_clip_without_audio_has_empty_audio_fields(silent_clip: Path) -> None:
    info = probe(silent_clip)

    assert not info.has_audio
    assert info.audio_codec == ""
    assert (info.sample_rate, info.channels, info.audio_bitrate_kbps) == (0, 0, 0.0)
    assert (info.width, info.height) == (160, 120)


def test_probe_of_text_file_is_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.bin"
    text.write_text("hello, this is not a video\n")

    with pytest.raises(TaskFailed) as caught:
        probe(text)

    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert caught.value.message.startswith("input is not a decodable video: ")
    assert "\n" not in caught.value.message


def test_probe_of_long_txt_file_is_not_a_video(tmp_path: Path) -> None:
    # ffmpeg's tty demuxer claims .txt files as ANSI-art "video" and ffprobe succeeds.
    text = tmp_path / "notes.txt"
    text.write_text("lorem ipsum dolor sit amet\n" * 50)

    with pytest.raises(TaskFailed) as caught:
        probe(text)

    assert caught.value.err_code == INPUT_NOT_VIDEO


def test_probe_of_still_image_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as caught:
        probe(make_logo(tmp_path / "logo.png"))

    assert caught.value.err_code == INPUT_NOT_VIDEO


def test_probe_of_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    audio = tmp_path / "tone.m4a"
    tone = ["-f", "lavfi", "-i", "sine", "-t", "1"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", *tone, str(audio)], check=True)

    with pytest.raises(TaskFailed) as caught:
        probe(audio)

    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert "no video stream" in caught.value.message


def test_probe_of_missing_file_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as caught:
        probe(tmp_path / "missing.mp4")

    assert caught.value.err_code == INPUT_NOT_VIDEO
