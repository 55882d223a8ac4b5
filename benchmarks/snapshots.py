"""Snapshots (issue 20, point 1): save and restore of a test's worth of state, beside building
that state through the API in the same run.

The state: one storage, 10 templates, 100 objects of 100 KB in the embedded S3 and 100 tasks
(pending: the emulator runs without a worker, so nothing changes under the timings). Each
figure is min / median / max of ROUNDS; the goal is restore <= 200 ms.

    .venv/bin/python -m benchmarks.snapshots
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from emulator.testing import EmulatorOptions, TranscodeEmulator, start_emulator

ROUNDS = 5
TEMPLATES, OBJECTS, TASKS = 10, 100, 100
BODY = b"\x5a" * 100 * 1024


def spread(values: list[float]) -> str:
    low, mid, high = (1000 * v for v in (min(values), statistics.median(values), max(values)))
    return f"{low:8.1f} / {mid:8.1f} / {high:8.1f} ms"


def build(emulator: TranscodeEmulator) -> None:
    """The state, through the vendor API and S3, as a test's set-up would make it."""
    client, s3 = emulator.client, emulator.s3
    storage = client.add_storage("cn-hz", "s3", "outputs").storage_id
    s3.create_bucket(Bucket="inputs")
    for i in range(OBJECTS):
        s3.put_object(Bucket="inputs", Key=f"clip-{i}.mp4", Body=BODY)
    for i in range(TEMPLATES):
        client.add_template(f"bench-{i}", resolution="640x360")
    for i in range(TASKS):
        client.create_task(f"bench-{i % TEMPLATES}", f"s3://inputs/clip-{i}.mp4", "o.mp4", storage)


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    emulator = start_emulator(EmulatorOptions(concurrency=0))
    control = emulator.control
    try:
        builds, saves, restores, resets = [], [], [], []
        for n in range(ROUNDS):
            resets.append(timed(emulator.reset))
            builds.append(timed(lambda: build(emulator)))
            saves.append(timed(lambda n=n: control.save_snapshot(f"bench-{n}")))
        info = control.list_snapshots()[0]
        for n in range(ROUNDS):
            emulator.reset()
            restores.append(timed(lambda n=n: control.restore_snapshot(f"bench-{n}")))
        assert emulator.client.list_storage().num == 1
    finally:
        emulator.stop()
    print(
        f"state: {info.tasks} tasks, {info.templates} templates, {info.objects} objects "
        f"({info.bytes / 1e6:.1f} MB on disk), min / median / max of {ROUNDS}"
    )
    print(f"  build through the API   {spread(builds)}")
    print(f"  reset (empty)           {spread(resets)}")
    print(f"  save snapshot           {spread(saves)}")
    print(f"  restore snapshot        {spread(restores)}  (goal: <= 200 ms)")
    ratio = statistics.median(builds) / statistics.median(restores)
    print(f"  restore is {ratio:.0f}x faster than building the state (medians)")


if __name__ == "__main__":
    main()
