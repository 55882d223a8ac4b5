"""`cli(...)`: the CLI as a subprocess, aimed at this module's emulator through EMULATOR_PORT."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from emulator.server import EmulatorServer

Cli = Callable[..., subprocess.CompletedProcess[str]]


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without any EMULATOR_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    return {**env, **extra}


def run(*argv: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def cli(emulator: EmulatorServer) -> Cli:
    """Runs `transcode-emulator ARGS` with EMULATOR_PORT set as a README reader would set it."""
    env = environment(EMULATOR_PORT=str(emulator.settings.port))

    def call(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run(*argv, env=env, timeout=timeout)

    return call
