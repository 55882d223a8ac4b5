"""probe(): what a probe says about inputs, and refusing what is not a video (err_code 2002)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode import probe as probe_module
from emulator.transcode.clips import make_clip, make_logo
from emulator.transcode.probe import Probing, probe
from tests.processes import running


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


# Probing's gate: ffprobe loads before the file exists and reads it once released.


def _ffprobe_pids(gate_dir: Path) -> list[int]:
    return list(running("ffprobe", mentioning=gate_dir))


needs_lifeline = pytest.mark.skipif(
    not probe_module._LIFELINE, reason="gated ffprobe starts early only where setpriv exists"
)


@needs_lifeline
def test_gated_probe_waits_for_the_file_and_reads_it_whole(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "input"
    with Probing(target, gate_dir=tmp_path) as probing:
        time.sleep(0.3)  # ffprobe is loaded and waits: the file does not exist yet
        assert probing.waiting
        assert _ffprobe_pids(tmp_path)
        shutil.copyfile(clip, target)
        probing.release()
        assert not probing.waiting
        info = probing.result()
    assert info == probe(target)
    assert (info.width, info.height, info.has_audio) == (160, 120, True)
    assert _ffprobe_pids(tmp_path) == []
    assert list(tmp_path.iterdir()) == [target]  # the gate (a FIFO) is gone


def test_gated_probe_of_what_is_no_video_fails_like_probe(tmp_path: Path) -> None:
    target = tmp_path / "input"
    with Probing(target, gate_dir=tmp_path) as probing:
        target.write_text("not a video\n")
        with pytest.raises(TaskFailed) as caught:
            probing.result()
    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert caught.value.message.startswith("input is not a decodable video: ")


def test_gated_probe_released_at_once_still_reads_the_file(clip: Path, tmp_path: Path) -> None:
    """Released before ffprobe has even loaded: it reads the file when it gets there."""
    with Probing(clip, gate_dir=tmp_path) as probing:
        info = probing.result()
    assert info == probe(clip)


def test_gated_probe_never_released_leaves_no_process_and_no_fifo(tmp_path: Path) -> None:
    with Probing(tmp_path / "input", gate_dir=tmp_path):
        time.sleep(0.2)
    assert _ffprobe_pids(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@needs_lifeline
def test_a_waiting_ffprobe_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """kill -9 of its owner must not leave an ffprobe waiting on its gate forever."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from emulator.transcode.probe import Probing; "
            f"p = Probing(Path({str(tmp_path)!r}) / 'input', gate_dir=Path({str(tmp_path)!r})); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    assert len(_ffprobe_pids(tmp_path)) == 1
    owner.kill()
    owner.communicate()
    deadline = time.monotonic() + 5
    while _ffprobe_pids(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ffprobe_pids(tmp_path) == []


@needs_lifeline
def test_a_waiting_ffprobe_killed_before_release_is_replaced(clip: Path, tmp_path: Path) -> None:
    """Its death is not the file's fault: a fresh ffprobe measures the file, no 2002."""
    target = tmp_path / "input"
    with Probing(target, gate_dir=tmp_path) as probing:
        time.sleep(0.2)
        (pid,) = _ffprobe_pids(tmp_path)
        os.kill(pid, signal.SIGKILL)
        shutil.copyfile(clip, target)
        info = probing.result()  # at once: the kill may not have been noticed yet
        assert not probing.waiting
    assert info == probe(clip)
