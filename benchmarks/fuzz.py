"""The large schemathesis run: every route of /openapi.json, signed and unsigned, many examples.

    python -m benchmarks.fuzz [examples per operation and mode, default 100]

Prints the requests sent and every problem (5xx, a bad envelope, a wrong HTTP status); exits 1
when there is one. `make test` runs the same check with a few examples (tests/reliability).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from emulator.config import Settings
from emulator.server import EmulatorServer
from tests.reliability.fuzzing import Stats, Target, fuzz


def run(examples: int) -> tuple[Stats, float]:
    """Fuzz a fresh in-process emulator (worker off); the stats and the seconds taken."""
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), port=0, s3_port=0, worker_concurrency=0)
        with EmulatorServer(settings) as server:
            started = time.monotonic()
            target = Target(server.base_url, settings.access_key_id, settings.access_key_secret)
            stats = fuzz(target, examples, progress=lambda line: print(line, file=sys.stderr))
            return stats, time.monotonic() - started


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    stats, seconds = run(examples)
    print(f"fuzz: {stats.requests} requests in {seconds:.0f} s, {len(stats.problems)} problems")
    for problem in stats.problems:
        print(" ", problem)
    return 1 if stats.problems else 0


if __name__ == "__main__":
    sys.exit(main())
