"""Helpers for tests about processes: start `transcode-emulator` commands, wait, kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from emulator.server import free_port

CLI = [sys.executable, "-m", "emulator"]


def command_lines() -> dict[int, list[bytes]]:
    """Every process on this machine (Linux /proc): pid -> its arguments, program first."""
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")[:-1]
        except OSError:
            continue  # the process ended while we looked
        if argv:
            found[int(cmdline.parent.name)] = argv
    return found


def running(program: str, *, mentioning: object) -> dict[int, list[bytes]]:
    """Processes running `program` with `mentioning` (a path, a task id) in an argument."""
    needle = str(mentioning).encode()
    return {
        pid: argv
        for pid, argv in command_lines().items()
        if Path(argv[0].decode(errors="replace")).name == program
        and any(needle in arg for arg in argv[1:])
    }


def ffmpeg_running_for(task_id: str) -> bool:
    """An ffmpeg process on this machine whose command line names the task (its output dir)."""
    return bool(running("ffmpeg", mentioning=task_id))


def env_for(data_dir: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["EMULATOR_DATA_DIR"] = str(data_dir)
    # One slot per process unless a test says otherwise (as tests/conftest.py's make_settings):
    # the kill -9 tests count on one task per process.
    settings = {"worker_concurrency": 1, **settings}
    env.update({f"EMULATOR_{k.upper()}": str(v) for k, v in settings.items()})
    return env


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(
            [*CLI, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def kill9(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._out.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_healthy(base_url: str, proc: Proc, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"process exited early:\n{proc.output()}")
        try:
            if httpx.get(f"{base_url}/_emulator/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{base_url} not healthy in {timeout_s} s:\n{proc.output()}")


@contextmanager
def serve(
    data_dir: Path, *extra: str, port: int | None = None, **settings: object
) -> Iterator[tuple[str, Proc]]:
    """`transcode-emulator serve` on free ports; yields (base_url, process)."""
    port = port or free_port()
    settings.setdefault("s3_port", 0)
    proc = Proc(
        ["serve", "--port", str(port), *extra],
        env_for(data_dir, **settings),
        data_dir.parent / f"serve-{port}.log",
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, proc)
        yield base_url, proc
    finally:
        proc.stop()


def worker(data_dir: Path, log_name: str, **settings: object) -> Proc:
    return Proc(["worker"], env_for(data_dir, **settings), data_dir.parent / f"{log_name}.log")
