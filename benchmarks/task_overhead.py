"""What the emulator costs on top of ffmpeg: create_task -> success vs the same ffmpeg by hand.

Targets (issue 17): 10 s 1280x720 -> 480p h264 within 1.10x raw ffmpeg; overhead on a 1 s
160x120 clip at most 150 ms (medians of 5 interleaved runs); time to health after `serve`
starts on a fresh data dir under 1.5 s (issue 17) and at most 1.0 s (issue 16).
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._common import emulator_process, median, stage_spans, wait_http
from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import free_port
from emulator.template_spec import TemplateSpec
from emulator.transcode import command
from emulator.transcode.clips import make_clip
from emulator.transcode.probe import probe

TEMPLATE = {"format": "mp4", "resolution": "480p", "framerate": 25, "quality": 5, "vcodec": "h264"}
RUNS = 5
SETTLE_S = 0.5


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per download would bury the results


def serve_dir(directory: Path) -> str:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def raw_ffmpeg(clip: Path, out_dir: Path) -> float:
    plan = command.build_plan(
        TemplateSpec.from_task(TEMPLATE),
        input_path=clip,
        out_dir=out_dir,
        basename="raw",
        source=probe(clip),
        progress=None,
    )
    started = time.perf_counter()
    subprocess.run(plan.args, check=True, capture_output=True)
    return time.perf_counter() - started


def through_emulator(api: TranscodeClient, storage_id: str, url: str, ids: list[str]) -> float:
    started = time.perf_counter()
    task_id = api.call(
        "POST",
        "/api/create_task",
        {
            "template_name": "bench480",
            "input": url,
            "output": f"bench/{time.time_ns()}.mp4",
            "storage_id": storage_id,
        },
    )["task_id"]
    # The long-poll returns the moment the task ends, without polling for CPU beside ffmpeg.
    done = api.wait_for_task(task_id, timeout=600)
    assert done.status == "success", done
    ids.append(task_id)
    return time.perf_counter() - started


def time_to_health() -> float:
    data = tempfile.mkdtemp()
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--port",
            str(port),
            "--s3-port",
            "0",
            "--data-dir",
            data,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/_emulator/health")
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="overhead-"))
    long_clip = make_clip(work / "long.mp4", size="1280x720", rate=25, duration=10)
    short_clip = make_clip(work / "short.mp4", size="160x120", rate=15, duration=1)
    base = serve_dir(work)
    with (
        emulator_process() as base_url,
        TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api,
    ):
        api.call("POST", "/api/add_template", {"name": "bench480", **TEMPLATE})
        storage_id = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "bench"}
        )["storage_id"]
        results, spans = {}, {}
        for name, clip in (("10 s 1280x720", long_clip), ("1 s 160x120", short_clip)):
            through_emulator(api, storage_id, f"{base}/{clip.name}", [])  # warm-up
            raw_ffmpeg(clip, work)
            # Interleaved, so a slower spell of this shared machine hits both sides alike, and
            # each run starts once the previous one's stragglers are done, so neither side slows
            # the other.
            emu_runs, raw_runs, ids = [], [], []
            for _ in range(RUNS):
                time.sleep(SETTLE_S)
                emu_runs.append(through_emulator(api, storage_id, f"{base}/{clip.name}", ids))
                time.sleep(SETTLE_S)
                raw_runs.append(raw_ffmpeg(clip, work))
            results[name] = (median(emu_runs), median(raw_runs))
            spans[name] = {stage: median(v) for stage, v in stage_spans(api, ids).items() if v}
    for name, (emu, raw) in results.items():
        print(
            f"{name} -> 480p: emulator {emu:6.2f} s   raw ffmpeg {raw:6.2f} s   "
            f"ratio {emu / raw:.2f}   overhead {1000 * (emu - raw):6.0f} ms"
        )
        stages = ", ".join(f"in {k} {1000 * v:.0f} ms" for k, v in spans[name].items())
        print(f"    medians: {stages}")
    print("targets: 10 s ratio <= 1.10; 1 s overhead <= 150 ms")
    health = sorted(time_to_health() for _ in range(5))
    print(
        f"time to health after serve starts, fresh data dir: min / median / max of 5"
        f" {health[0]:.2f} / {median(health):.2f} / {health[-1]:.2f} s (target <= 1.0 s)"
    )


if __name__ == "__main__":
    main()
