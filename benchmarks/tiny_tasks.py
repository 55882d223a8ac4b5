"""Tiny tasks (issue 19, points 4 and 5): what the emulator adds to a 1 s 160x120 encode.

- one task: create_task -> success seen by the long-poll, against the same ffmpeg encode by
  hand, runs interleaved; and where the difference goes, from the task's stage times
  (pending -> downloading -> running -> uploading -> success);
- 20 tasks created at once, against the same 20 encodes run as many at a time as the
  emulator has worker slots (the default: one per CPU).

Targets: one task within 60 ms of the encode by hand; 20 at once within 1.3x.
"""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._common import emulator_process, stage_spans
from benchmarks.task_overhead import TEMPLATE, raw_ffmpeg, serve_dir
from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.transcode.clips import make_clip

SINGLE_RUNS = 7
BATCH = 20
BATCH_RUNS = 3
SETTLE_S = 0.3


def spread(values: list[float], unit: str = "ms", scale: float = 1000) -> str:
    low, mid, high = (scale * v for v in (min(values), statistics.median(values), max(values)))
    digits = 0 if unit == "ms" else 2
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f} {unit}"


def create(api: TranscodeClient, storage_id: str, url: str) -> str:
    task_id: str = api.call(
        "POST",
        "/api/create_task",
        {
            "template_name": "tiny",
            "input": url,
            "output": f"tiny/{time.time_ns()}.mp4",
            "storage_id": storage_id,
        },
    )["task_id"]
    return task_id


def one_task(api: TranscodeClient, storage_id: str, url: str) -> tuple[float, str]:
    started = time.perf_counter()
    task_id = create(api, storage_id, url)
    done = api.wait_for_task(task_id, timeout=120)
    assert done.status == "success", done
    return time.perf_counter() - started, task_id


def batch_emulator(api: TranscodeClient, storage_id: str, url: str) -> float:
    started = time.perf_counter()
    ids = [create(api, storage_id, url) for _ in range(BATCH)]
    for task_id in ids:
        done = api.wait_for_task(task_id, timeout=300)
        assert done.status == "success", done
    return time.perf_counter() - started


def batch_raw(clip: Path, work: Path, slots: int) -> float:
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(slots) as pool:
        outs = [work / f"raw{index}" for index in range(BATCH)]
        for out in outs:
            out.mkdir(exist_ok=True)
        list(pool.map(lambda out: raw_ffmpeg(clip, out), outs))
    return time.perf_counter() - started


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tiny-"))
    clip = make_clip(work / "tiny.mp4", size="160x120", rate=15, duration=1)
    url = f"{serve_dir(work)}/{clip.name}"
    slots = os.cpu_count() or 1
    with (
        emulator_process() as base_url,
        TranscodeClient(base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api,
    ):
        api.call("POST", "/api/add_template", {"name": "tiny", **TEMPLATE})
        storage_id = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "tiny"}
        )["storage_id"]
        one_task(api, storage_id, url)  # warm-up: first download, first upload, clients
        raw_ffmpeg(clip, work)
        emu, raw, ids = [], [], []
        for _ in range(SINGLE_RUNS):
            time.sleep(SETTLE_S)
            elapsed, task_id = one_task(api, storage_id, url)
            emu.append(elapsed)
            ids.append(task_id)
            time.sleep(SETTLE_S)
            raw.append(raw_ffmpeg(clip, work))
        spans = stage_spans(api, ids)
        emu_batch, raw_batch = [], []
        for _ in range(BATCH_RUNS):
            time.sleep(SETTLE_S)
            emu_batch.append(batch_emulator(api, storage_id, url))
            time.sleep(SETTLE_S)
            raw_batch.append(batch_raw(clip, work, slots))
    overhead = [e - r for e, r in zip(emu, raw, strict=True)]
    print(f"one 1 s 160x120 task, min / median / max of {SINGLE_RUNS}:")
    print(f"  create_task -> success  {spread(emu)}")
    print(f"  ffmpeg by hand          {spread(raw)}")
    print(f"  overhead                {spread(overhead)}   (target: <= 60 ms)")
    for stage, values in spans.items():
        if values:
            print(f"  in {stage:<12}         {spread(values)}")
    ratios = [e / r for e, r in zip(emu_batch, raw_batch, strict=True)]
    print(f"{BATCH} tasks at once, {slots} worker slots, min / median / max of {BATCH_RUNS}:")
    print(f"  emulator                {spread(emu_batch, 's', 1)}")
    print(f"  ffmpeg, {slots} at a time     {spread(raw_batch, 's', 1)}")
    low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
    print(f"  ratio                   {low:.2f} / {mid:.2f} / {high:.2f}   (target: <= 1.3)")


if __name__ == "__main__":
    main()
