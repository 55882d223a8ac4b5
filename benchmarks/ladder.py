"""A 3-rendition HLS ladder through the emulator vs the same encodes as one raw ffmpeg command.

10 s 1280x720 clip -> 720p/480p/360p h264 + AAC HLS (CRF 28, veryfast, 4 s segments). The
emulator: create_task -> success, with the clip in its embedded S3 (download, probe, one
ffmpeg run with a split filter, measure, upload ~20 objects). Raw: one hand-written ffmpeg
command with the same split, encoders and muxer. Median of 3 each, interleaved (a busy
machine slows both sides alike), after a warm-up.
Target (issue 8): ratio <= 1.2. Run: `.venv/bin/python -m benchmarks.ladder`.
"""

from __future__ import annotations

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


def raw_ffmpeg(clip: Path, out_dir: Path) -> float:
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
    started = time.perf_counter()
    subprocess.run([*args, str(out_dir / "raw_%v.m3u8")], check=True)
    return time.perf_counter() - started


def through_emulator(api: TranscodeClient, storage_id: str) -> float:
    started = time.perf_counter()
    task_id = api.call(
        "POST",
        "/api/create_task",
        {
            "template_name": "ladder",
            "input": "s3://inputs/clip.mp4",
            "output": f"bench/{time.time_ns()}",
            "storage_id": storage_id,
        },
    )["task_id"]
    while True:
        data = api.call("GET", "/api/query_task", {"task_id": task_id})
        if data["status"] in ("success", "fail"):
            break
        time.sleep(0.01)
    assert data["status"] == "success", data
    return time.perf_counter() - started


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
                # Interleaved, so a busy machine slows both sides alike.
                emulator_s, raw_s = [], []
                for _ in range(RUNS):
                    emulator_s.append(through_emulator(api, storage_id))
                    raw_s.append(raw_ffmpeg(clip, work / "raw"))
        emulator, raw = median(emulator_s), median(raw_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        "runs (s): emulator", [round(x, 2) for x in emulator_s], "raw", [round(x, 2) for x in raw_s]
    )
    print(
        f"10 s 1280x720 -> HLS 720p/480p/360p: emulator {emulator:6.2f} s   "
        f"raw ffmpeg {raw:6.2f} s   ratio {emulator / raw:.2f}   (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
