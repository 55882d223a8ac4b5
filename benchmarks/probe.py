"""Probing a file: the Prober's helper process vs an ffprobe process per probe, in the same run.

Prints probes per second and per-probe latency (median, p90) of each on the same tiny clip and
a 10 s 720p one, and the ratios. Also the helper's cold start (spawn + import av + first
probe), which a worker pays once per slot instead of once per probe.

    .venv/bin/python -m benchmarks.probe [--probes 100]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._common import median
from emulator.transcode.clips import make_clip
from emulator.transcode.demuxers import INPUT_FORMATS
from emulator.transcode.prober import Prober


def ffprobe(path: Path) -> None:
    args = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    subprocess.run([*args, "-format_whitelist", INPUT_FORMATS, str(path)], check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)  # fmt: skip


def timed(probe_once: Callable[[], object], probes: int) -> list[float]:
    latencies = []
    for _ in range(probes):
        started = time.perf_counter()
        probe_once()
        latencies.append(time.perf_counter() - started)
    return latencies


def report(name: str, ours: list[float], theirs: list[float]) -> None:
    def p90(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.9)]

    print(f"{name}:")
    for label, values in (("Prober", ours), ("ffprobe per probe", theirs)):
        rate = len(values) / sum(values)
        print(f"  {label:18} {rate:8.1f} probes/s  median {median(values) * 1000:7.2f} ms"
              f"  p90 {p90(values) * 1000:7.2f} ms")  # fmt: skip
    print(f"  ratio ffprobe/Prober: latency (median) {median(theirs) / median(ours):.1f}x, "
          f"throughput {sum(theirs) / sum(ours):.1f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=100)
    probes = parser.parse_args().probes
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        clips = {
            "1 s 160x120 mp4": make_clip(Path(tmp) / "tiny.mp4"),
            "10 s 1280x720 mp4": make_clip(Path(tmp) / "hd.mp4", size="1280x720", duration=10),
        }
        with Prober() as prober:
            started = time.perf_counter()
            prober.probe(clips["1 s 160x120 mp4"], formats=INPUT_FORMATS)
            cold = time.perf_counter() - started
            print(f"Prober cold start (spawn, import av, first probe): {cold * 1000:.0f} ms")
            for name, clip in clips.items():
                ours = timed(lambda c=clip: prober.probe(c, formats=INPUT_FORMATS), probes)
                theirs = timed(lambda c=clip: ffprobe(c), probes)
                report(name, ours, theirs)


if __name__ == "__main__":
    main()
