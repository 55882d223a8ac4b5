"""What the test fixture costs (issue 19, point 6): a start, and a reset between tests.

- start: `start_emulator(EmulatorOptions())` until healthy, in each mode (the pytest plugin's
  session fixture does this once per session), min / median / max of three;
- reset: the `POST /_emulator/reset` the plugin sends before each test, on an emptied
  emulator and after a test's worth of state (a storage, a template, five tasks held pending);
- beside them, in the same run, the baseline every Python test run pays anyway: a new
  interpreter that only imports httpx.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from emulator.testing import EmulatorOptions, Mode, TranscodeEmulator, start_emulator

STARTS = 3
RESETS = 30


def spread(values: list[float]) -> str:
    low, mid, high = (1000 * v for v in (min(values), statistics.median(values), max(values)))
    return f"{low:7.1f} / {mid:7.1f} / {high:7.1f} ms"


def interpreter() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import httpx"], check=True)
    return time.perf_counter() - started


def start(mode: Mode) -> float:
    started = time.perf_counter()
    emulator = start_emulator(EmulatorOptions(mode=mode))
    elapsed = time.perf_counter() - started
    emulator.stop()
    return elapsed


def some_state(emulator: TranscodeEmulator) -> None:
    api = emulator.client
    api.call("POST", "/api/add_template", {"name": "t", "format": "mp4", "resolution": "480p"})
    storage = api.call(
        "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "fixture-bench"}
    )
    api.control.hold("pending")  # the tasks stay put: a reset, not an encode, is measured
    for index in range(5):
        api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": "t",
                "input": "http://127.0.0.1:9/in.mp4",
                "output": f"o/{index}.mp4",
                "storage_id": storage["storage_id"],
            },
        )


def resets(emulator: TranscodeEmulator, *, with_state: bool) -> list[float]:
    times = []
    for _ in range(RESETS):
        if with_state:
            some_state(emulator)
        started = time.perf_counter()
        emulator.reset()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    baseline = [interpreter() for _ in range(STARTS)]
    print(f"min / median / max (starts: {STARTS} each; resets: {RESETS} each)")
    print(f"  python -c 'import httpx'       {spread(baseline)}   (baseline)")
    for mode in ("subprocess", "in-process"):
        times = [start(mode) for _ in range(STARTS)]
        ratio = statistics.median(times) / statistics.median(baseline)
        print(f"  fixture start, {mode:<11}     {spread(times)}   {ratio:.1f}x baseline")
    emulator = start_emulator(EmulatorOptions())
    try:
        print(f"  reset, empty                   {spread(resets(emulator, with_state=False))}")
        print(f"  reset after a test's state     {spread(resets(emulator, with_state=True))}")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
