"""Prober: one helper process with PyAV loaded answers every probe, as ffprobe would, and a file
that crashes or hangs it fails only its own probe (2002)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator.errors import INPUT_NOT_VIDEO, TaskFailed
from emulator.transcode import prober as prober_module
from emulator.transcode.clips import make_clip, make_logo
from emulator.transcode.media_info import MediaInfo, media_info
from emulator.transcode.probe import probe
from emulator.transcode.prober import Prober, ProberUnavailable

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def _ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The clips whose figures the Prober must give exactly as ffprobe does."""
    root = tmp_path_factory.mktemp("prober")
    mp4 = make_clip(root / "clip.mp4")
    rotated = root / "rotated.mp4"
    # The mp4 muxer turns the rotate tag into a display matrix (a phone's portrait video).
    _ffmpeg("-i", str(mp4), "-c", "copy", "-metadata:s:v", "rotate=90", str(rotated))
    mkv = make_clip(root / "clip.mkv", size="320x240", rate=25, duration=2)
    ts = make_clip(root / "clip.ts", size="320x240", rate=25, duration=2)
    (root / "hls").mkdir()
    hls = root / "hls" / "out.m3u8"
    _ffmpeg("-i", str(mkv), "-c", "copy", "-f", "hls", "-hls_time", "1", str(hls))
    (root / "dash").mkdir()
    dash = root / "dash" / "out.mpd"
    _ffmpeg("-i", str(mp4), "-c", "copy", "-f", "dash", str(dash))
    cover = make_logo(root / "cover.jpg")
    tone = root / "tone.mp3"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=1", str(tone))
    mp3 = root / "cover.mp3"
    _ffmpeg("-i", str(tone), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy",
            "-disposition:v", "attached_pic", str(mp3))  # fmt: skip
    return {
        **{"mp4": mp4, "rotated": rotated, "mkv": mkv, "ts": ts},
        **{"hls": hls, "dash": dash, "mp3": mp3},
    }


@pytest.fixture(scope="module")
def prober() -> Iterator[Prober]:
    with Prober() as shared:
        yield shared


def ffprobe_info(path: Path) -> MediaInfo | TaskFailed:
    """What today's ffprobe-based probe made of `path`: the same rules on ffprobe's report."""
    args = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    if path.suffix in (".m3u8", ".mpd"):
        args += ["-protocol_whitelist", "file,crypto"]
    done = subprocess.run([*args, str(path)], capture_output=True, text=True, check=True)
    try:
        return media_info(path, json.loads(done.stdout))
    except TaskFailed as failed:
        return failed


def prober_info(prober: Prober, path: Path) -> MediaInfo | TaskFailed:
    try:
        return prober.probe(path)
    except TaskFailed as failed:
        return failed


def comparable(info: MediaInfo | TaskFailed) -> MediaInfo | str:
    return repr(info) if isinstance(info, TaskFailed) else info


@pytest.mark.parametrize("kind", ["mp4", "rotated", "mkv", "hls", "dash", "mp3"])
def test_prober_figures_equal_ffprobe_figures(
    prober: Prober, clips: dict[str, Path], kind: str
) -> None:
    assert comparable(prober_info(prober, clips[kind])) == comparable(ffprobe_info(clips[kind]))


def test_ts_figures_equal_ffprobe_figures_but_the_estimated_aac_bitrate(
    prober: Prober, clips: dict[str, Path]
) -> None:
    """MPEG-TS stores no stream bitrate: FFmpeg's AAC parser estimates one from the frames it
    reads while probing, and FFmpeg 8 (the helper's) reads other frames than 5.1: the README's
    figure is FFmpeg's reading, so it follows the helper's (docs/probing.md)."""
    ours, theirs = prober.probe(clips["ts"]), ffprobe_info(clips["ts"])
    assert isinstance(theirs, MediaInfo)
    assert replace(ours, audio_bitrate_kbps=0) == replace(theirs, audio_bitrate_kbps=0)
    assert ours.audio_bitrate_kbps == pytest.approx(theirs.audio_bitrate_kbps, rel=0.1)


def test_rotated_clip_measures_its_displayed_size(prober: Prober, clips: dict[str, Path]) -> None:
    info = prober.probe(clips["rotated"])
    assert (info.width, info.height) == (120, 160)


def test_hls_output_size_is_its_segments_and_bitrate_follows(
    prober: Prober, clips: dict[str, Path]
) -> None:
    info = prober.probe(clips["hls"])
    segments = sum(p.stat().st_size for p in clips["hls"].parent.glob("*.ts"))
    assert (info.format_name, info.size) == ("hls", segments)
    assert info.bitrate_kbps == pytest.approx(segments * 8 / info.duration / 1000)


def test_cover_art_is_not_the_video(prober: Prober, clips: dict[str, Path]) -> None:
    with pytest.raises(TaskFailed) as caught:
        prober.probe(clips["mp3"])
    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert "no video stream" in caught.value.message


def ffprobe_avc_codecs(path: Path) -> str:
    """avc_codecs as it was computed from ffprobe's extradata dump."""
    args = ["-select_streams", "v:0", "-show_entries", "stream=codec_name,extradata"]
    command = ["ffprobe", "-v", "error", "-print_format", "json", *args, "-show_data"]
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, check=True)
    stream: dict[str, Any] = json.loads(done.stdout)["streams"][0]
    if stream.get("codec_name") != "h264":
        return ""
    dump = str(stream.get("extradata", ""))
    data = bytes.fromhex("".join(line[9:49].replace(" ", "") for line in dump.splitlines()))
    if data[:1] == b"\x01":
        return f"avc1.{data[1:4].hex()}"
    start = data.find(b"\x00\x00\x01\x67")
    return f"avc1.{data[start + 4 : start + 7].hex()}" if start >= 0 else ""


@pytest.mark.parametrize("kind", ["mp4", "ts", "hls"])
def test_avc_codecs_equal_ffprobe_extradata(
    prober: Prober, clips: dict[str, Path], kind: str
) -> None:
    found = prober.avc_codecs(clips[kind])
    assert found.startswith("avc1.")
    assert found == ffprobe_avc_codecs(clips[kind])


def test_garbage_fails_its_probe_and_the_next_probe_works(
    prober: Prober, clips: dict[str, Path], tmp_path: Path
) -> None:
    garbage = tmp_path / "input"
    garbage.write_bytes(os.urandom(4096))

    with pytest.raises(TaskFailed) as caught:
        prober.probe(garbage)

    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert caught.value.message.startswith("input is not a decodable video: ")
    assert prober.probe(clips["mp4"]).width == 160


def test_helper_killed_between_probes_is_replaced(prober: Prober, clips: dict[str, Path]) -> None:
    prober.probe(clips["mp4"])
    pid = prober.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    assert prober.probe(clips["mp4"]).width == 160  # not the file's fault: no 2002
    assert prober.pid not in (None, pid)


def test_hang_fails_within_the_timeout_and_the_next_probe_works(
    prober: Prober, clips: dict[str, Path], tmp_path: Path
) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)  # nobody writes it: opening it blocks forever
    prober.start()
    hung = prober.pid

    started = time.monotonic()
    with pytest.raises(TaskFailed) as caught:
        prober.probe(fifo, timeout_s=0.5)

    assert time.monotonic() - started < 5
    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert caught.value.message == "input is not a decodable video: probing took over 0.5 s"
    assert not _alive(hung)
    assert prober.probe(clips["mp4"]).width == 160


def test_helper_crashing_during_a_probe_fails_only_that_probe(
    prober: Prober, clips: dict[str, Path], tmp_path: Path
) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    prober.start()
    pid = prober.pid
    assert pid is not None

    # As a decoder's segfault would: the helper dies while it reads the file.
    def crash() -> None:
        _wait_until_blocked_on_fifo(pid)
        os.kill(pid, signal.SIGSEGV)

    killer = threading.Thread(target=crash)
    killer.start()
    with pytest.raises(TaskFailed) as caught:
        prober.probe(fifo, timeout_s=30)
    killer.join()

    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert caught.value.message.endswith("the probe helper was killed by signal 11")
    assert prober.probe(clips["mp4"]).width == 160


def test_probes_from_many_threads_each_get_their_own_answer(
    prober: Prober, clips: dict[str, Path]
) -> None:
    kinds = ["mp4", "mkv", "ts", "rotated"] * 4
    results: dict[int, MediaInfo] = {}

    def one(index: int) -> None:
        results[index] = prober.probe(clips[kinds[index]])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(kinds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    expected = {kind: prober.probe(clips[kind]) for kind in set(kinds)}
    assert results == {i: expected[kind] for i, kind in enumerate(kinds)}


def test_close_leaves_no_helper_process(clips: dict[str, Path]) -> None:
    with Prober() as own:
        own.probe(clips["mp4"])
        pid = own.pid
    assert pid is not None and not _alive(pid)
    own.close()  # again: nothing to do


OWNER = """
import sys, threading, time
from pathlib import Path
from emulator.transcode.prober import Prober, ProberUnavailable
prober = Prober()
prober.start()
print(prober.pid, flush=True)
if len(sys.argv) > 1:  # busy: FFmpeg blocks opening a FIFO nobody writes
    threading.Thread(target=prober.probe, args=(Path(sys.argv[1]),), daemon=True).start()
time.sleep(60)
"""


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_helper_exits_when_its_owner_is_killed(tmp_path: Path, busy: bool) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    args = [str(fifo)] if busy else []
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, *args], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    helper = int(owner.stdout.readline())
    if busy:
        _wait_until_blocked_on_fifo(helper)
    owner.kill()
    owner.communicate()

    deadline = time.monotonic() + 10
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)


def test_helper_gets_the_memory_limit_ffmpeg_gets(clips: dict[str, Path]) -> None:
    with Prober(memory_limit_mb=1024) as limited:
        assert limited.probe(clips["mp4"]).width == 160
        limits = Path(f"/proc/{limited.pid}/limits").read_text().splitlines()
    (address_space,) = [line for line in limits if line.startswith("Max address space")]
    assert address_space.split()[3:5] == [str(1024 << 20)] * 2


def test_module_probe_uses_one_shared_prober(clips: dict[str, Path]) -> None:
    assert probe(clips["mp4"]) == ffprobe_info(clips["mp4"])
    assert prober_module.shared() is prober_module.shared()
    assert prober_module.shared().pid is not None


def test_close_during_a_probe_stops_the_helper_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    own = Prober()
    own.start()
    pid = own.pid
    assert pid is not None
    failures: list[BaseException] = []

    def hang() -> None:
        try:
            own.probe(fifo, timeout_s=60)
        except BaseException as error:
            failures.append(error)

    probing = threading.Thread(target=hang)
    probing.start()
    _wait_until_blocked_on_fifo(pid)
    started = time.monotonic()
    own.close()
    probing.join(timeout=10)

    assert time.monotonic() - started < 5
    assert not _alive(pid)
    assert [type(error) for error in failures] == [ProberUnavailable]


def _wait_until_blocked_on_fifo(pid: int) -> None:
    """Poll until the helper blocks opening a FIFO (Linux's wait channel for that open)."""
    deadline = time.monotonic() + 10
    wchan = Path(f"/proc/{pid}/wchan")
    while wchan.read_text() != "wait_for_partner":
        assert time.monotonic() < deadline, "the helper never reached the FIFO"
        time.sleep(0.02)


def _alive(pid: int | None) -> bool:
    """Whether `pid` is a running process (a zombie counts as gone)."""
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
