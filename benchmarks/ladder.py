"""A 3-rendition HLS ladder through the emulator vs the same encodes as one raw ffmpeg command.

10 s 1280x720 clip -> 720p/480p/360p h264 + AAC HLS (CRF 28, veryfast, 4 s segments). The
emulator: create_task -> success, with the clip in its embedded S3 (download, probe, one
ffmpeg run with a split filter, measure, upload ~20 objects). Raw: one hand-written ffmpeg
command with the same split, encoders and muxer. Median of 3 each, interleaved (a busy
machine slows both sides alike), after a warm-up.
Prints wall-clock and CPU time (this process, which hosts the emulator, plus its children,
i.e. ffmpeg/ffprobe; CPU time stays meaningful on a busy machine). Target (issue 8): wall
ratio <= 1.2. Run: `.venv/bin/python -m benchmarks.ladder`.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._common import median
from emulator.client import TranscodeClient
from emulator.config import Settings
from emulator.server import EmulatorServer
from emulator.services import templates
from emulator.transcode.clips import make_clip

RUNS = 3
HEIGHTS = (720, 480, 360)
PRESET = "veryfast"  # the emulator's default EMULATOR_ENCODER_PRESET


def cpu_s() -> float:
    """CPU seconds of this process (the in-process emulator) and its children (ffmpeg)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def raw_ffmpeg(clip: Path, out_dir: Path) -> tuple[float, float]:
    """The ladder as a developer would write it: one decode, split three ways, one HLS muxer."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    scales = ";".join(f"[v{i}]scale=-2:{h}[o{i}]" for i, h in enumerate(HEIGHTS))
    graph = f"[0:v:0]split=3[v0][v1][v2];{scales}"
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip)]
    args += ["-filter_complex", graph]
    for i in range(3):
        args += ["-map", f"[o{i}]", "-map", "0:a:0"]
    args += ["-c:v", "libx264", "-preset", PRESET, "-crf", "28", "-pix_fmt", "yuv420p"]
    args += ["-force_key_frames", "expr:gte(t,n_forced*4)", "-c:a", "aac", "-b:a", "64000"]
    args += ["-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod", "-hls_list_size", "0"]
    args += ["-hls_segment_filename", str(out_dir / "raw_%v_%05d.ts")]
    args += ["-master_pl_name", "raw.m3u8", "-var_stream_map", "v:0,a:0 v:1,a:1 v:2,a:2"]
    started, cpu = time.perf_counter(), cpu_s()
    subprocess.run([*args, str(out_dir / "raw_%v.m3u8")], check=True)
    return time.perf_counter() - started, cpu_s() - cpu


def through_emulator(api: TranscodeClient, storage_id: str) -> tuple[float, float]:
    started, cpu = time.perf_counter(), cpu_s()
    params = {
        "template_name": "ladder",
        "input": "s3://inputs/clip.mp4",
        "output": f"bench/{time.time_ns()}",
        "storage_id": storage_id,
    }
    task_id = api.call("POST", "/api/create_task", params)["task_id"]
    # Long-polls /_emulator/tasks/{id}/wait: a tight query_task loop would eat the CPU
    # ffmpeg needs on a small machine and bill it to the emulator.
    task = api.wait_for_task(task_id, timeout=600)
    assert task.status == "success", task
    return time.perf_counter() - started, cpu_s() - cpu


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ladder-"))
    try:
        clip = make_clip(work / "clip.mp4", size="1280x720", rate=25, duration=10)
        settings = Settings(data_dir=work / "data", port=0, s3_port=0, encoder_preset=PRESET)
        with EmulatorServer(settings) as server:
            ctx = server.app.state.ctx
            ctx.objects.ensure_bucket("inputs")
            ctx.objects.upload_file(clip, "inputs", "clip.mp4")
            ladder = [{"resolution": f"{h}p"} for h in HEIGHTS]
            with ctx.db.write() as session:
                templates.add(
                    session=session,
                    name="ladder",
                    fields={"format": "hls", "quality": 5},
                    extra={"adaptive_streams": ladder},
                    now=time.time(),
                )
            with TranscodeClient(
                server.base_url, settings.access_key_id, settings.access_key_secret
            ) as api:
                storage = {"region": "r", "type": "s3", "bucket": "bench"}
                storage_id = api.call("POST", "/api/add_storage", storage)["storage_id"]
                through_emulator(api, storage_id)  # warm-up
                raw_ffmpeg(clip, work / "raw")
                emulator_runs, raw_runs = [], []
                for _ in range(RUNS):
                    emulator_runs.append(through_emulator(api, storage_id))
                    raw_runs.append(raw_ffmpeg(clip, work / "raw"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for index, what in enumerate(("wall", "CPU")):
        emulator = median([run[index] for run in emulator_runs])
        raw = median([run[index] for run in raw_runs])
        print(
            f"10 s 1280x720 -> HLS 720p/480p/360p, {what} time: emulator {emulator:6.2f} s   "
            f"raw ffmpeg {raw:6.2f} s   ratio {emulator / raw:.2f}   (target <= 1.2)"
        )
    rounded = [[(round(w, 2), round(c, 2)) for w, c in runs] for runs in (emulator_runs, raw_runs)]
    print(f"runs (wall s, CPU s): emulator {rounded[0]}  raw {rounded[1]}")


if __name__ == "__main__":
    main()
