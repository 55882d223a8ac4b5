"""Regenerates the README "Reliability" table: fuzz, load, kill -9 restarts and a soak.

    python -m benchmarks.reliability [--soak-s 600] [--load-s 60] [--fuzz-examples 100]
                                     [--tasks 30] [--kills 5]

Prints the Markdown table; every figure comes from a fresh emulator on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import fuzz, load
from tests.reliability.crash import run_crash


def table(args: argparse.Namespace) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    stats, seconds = fuzz.run(args.fuzz_examples)
    rows.append(
        (
            "fuzz examples run (schemathesis requests, signed and unsigned)",
            f"{stats.requests} in {seconds:.0f} s, {len(stats.problems)} problems",
        )
    )
    figures = load.report(load.run(args.load_s), args.load_s)
    rows += [
        (
            f"load: requests served in {args.load_s:g} s (32 clients + 2 tasks/s)",
            str(figures["requests"]),
        ),
        ("load: HTTP 5xx", str(figures["5xx"])),
        ("load: `database is locked`", str(figures["database is locked"])),
        (
            "load: tasks created / lost / duplicated",
            f"{figures['tasks created']} / {figures['tasks lost']} / {figures['tasks duplicated']}",
        ),
    ]
    rows += [(f"load: p99 {route}", f"{ms:g} ms") for route, ms in figures["p99 ms"].items()]
    with tempfile.TemporaryDirectory() as tmp:
        crash = run_crash(Path(tmp), tasks=args.tasks, kills=args.kills)
    rows.append(
        (
            f"kill -9 restarts survived ({crash.tasks} tasks)",
            f"{crash.kills}; lost {len(crash.lost)}, duplicated {len(crash.duplicated)}, "
            f"temp files left {len(crash.temp_files)}",
        )
    )
    soak = load.report(load.run(args.soak_s), args.soak_s)
    rows += [
        (
            f"soak {args.soak_s / 60:g} min: memory growth after the 1st minute",
            f"{soak['memory growth %']} % ({soak['rss kB (after 1st minute, end)'][1]} kB RSS)",
        ),
        ("soak: open files (min, max)", str(soak["open files (min, max)"])),
        (
            "soak: 5xx / tasks lost / temp files left",
            f"{soak['5xx']} / {soak['tasks lost']} / {soak['temp files left']}",
        ),
    ]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--soak-s", type=float, default=600)
    parser.add_argument("--load-s", type=float, default=60)
    parser.add_argument("--fuzz-examples", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    print("| figure | value |\n|---|---|")
    for name, value in table(args):
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
