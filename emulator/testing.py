"""A real emulator for test suites: started on free ports with a temporary data dir, then removed.

The pytest plugin (emulator.pytest_plugin) is built on this; other test runners can use it:

    with start_emulator(EmulatorOptions()) as emulator:
        emulator.client.list_template()

The default mode runs `python -m emulator serve` in a subprocess. moto's S3 backends and its
botocore patching are process-wide, so an emulator inside the test process would share them
with any `moto.mock_aws` the tests use; a subprocess also keeps the test process's warning
filters, logging and signal handlers out of the emulator. "in-process" starts faster and
lets a debugger step into the emulator.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import httpx

from emulator.clients.api import TranscodeClient
from emulator.clients.control import ControlClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.errors import ApiError

Mode = Literal["subprocess", "in-process"]
# Settings the fixture decides; the rest can be passed through `settings`.
_OWN_SETTINGS = ("host", "port", "s3_port", "data_dir", "database_url", "s3_endpoint_url",
                 "public_url", "public_s3_url", "control")  # fmt: skip


@dataclass
class EmulatorOptions:
    url: str | None = None  # use this running emulator instead of starting one
    access_key_id: str = DEV_ACCESS_KEY_ID
    access_key_secret: str = DEV_ACCESS_KEY_SECRET
    control_token: str | None = None
    concurrency: int = 1
    mode: Mode = "subprocess"
    settings: dict[str, str] = field(default_factory=dict)  # other EMULATOR_* settings
    startup_timeout_s: float = 60.0
    snapshot: str | None = None  # each test starts from this snapshot instead of a reset


class EmulatorStartError(RuntimeError):
    pass


class TranscodeEmulator:
    """A running emulator: where it is, its keys, a signed client and an S3 client."""

    def __init__(
        self,
        *,
        base_url: str,
        options: EmulatorOptions,
        s3_endpoint: str,
        data_dir: Path | None = None,
        started_in_s: float = 0.0,
        stop: Callable[[], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.access_key_id = options.access_key_id
        self.access_key_secret = options.access_key_secret
        self.control_token = options.control_token
        self.snapshot = options.snapshot
        self.s3_endpoint = s3_endpoint
        self.data_dir = data_dir
        self.started_in_s = started_in_s
        self._stop = stop

    def __repr__(self) -> str:
        return f"TranscodeEmulator({self.base_url!r}, s3_endpoint={self.s3_endpoint!r})"

    @cached_property
    def client(self) -> TranscodeClient:
        return TranscodeClient(
            self.base_url,
            self.access_key_id,
            self.access_key_secret,
            timeout=60,
            control_token=self.control_token,
        )

    @property
    def control(self) -> ControlClient:
        """The control API (faults, holds, clock, request log, keys)."""
        return self.client.control

    @cached_property
    def s3(self) -> Any:
        """A boto3 S3 client of the emulator's object store (any key pair is accepted)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def reset(self) -> None:
        """Delete every storage, custom template, task, object, fault, hold and clock setting."""
        try:
            self.client.control.reset()
        except ApiError as exc:
            raise EmulatorStartError(
                f"cannot reset the emulator at {self.base_url} ({exc.code} {exc.msg}: "
                f"{exc.detail}): it needs EMULATOR_CONTROL=on, and its control token if it "
                "has one (--transcode-emulator-token)"
            ) from None

    def restore(self, name: str) -> None:
        """Replace the whole state with snapshot `name` (README, Snapshots)."""
        try:
            self.client.control.restore_snapshot(name)
        except ApiError as exc:
            raise EmulatorStartError(
                f"cannot restore snapshot {name!r} on the emulator at {self.base_url} "
                f"({exc.code} {exc.msg}: {exc.detail}); save it first (`transcode-emulator "
                "snapshot save`, or control.save_snapshot in a session fixture)"
            ) from None

    def begin_test(self) -> None:
        """The state a test starts from: the configured snapshot, else a fresh emulator."""
        if self.snapshot:
            self.restore(self.snapshot)
        else:
            self.reset()

    def put_input(self, source: Path | str | bytes, key: str, *, bucket: str = "inputs") -> str:
        """Put a file (or bytes) into the object store; returns its `s3://bucket/key` URL."""
        existing = {b["Name"] for b in self.s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            self.s3.create_bucket(Bucket=bucket)
        if isinstance(source, bytes):
            self.s3.put_object(Bucket=bucket, Key=key, Body=source)
        else:
            self.s3.upload_file(str(source), bucket, key)
        return f"s3://{bucket}/{key}"

    def stop(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
        if self._stop is not None:
            self._stop()
            self._stop = None

    def __enter__(self) -> TranscodeEmulator:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_emulator(options: EmulatorOptions) -> TranscodeEmulator:
    """A healthy emulator: the one at options.url, or a new one (see the module docstring)."""
    if options.url:
        base_url = options.url.rstrip("/")
        health = _wait_healthy(base_url, options.startup_timeout_s, alive=lambda: True)
        return TranscodeEmulator(base_url=base_url, options=options, s3_endpoint=health)
    root = Path(tempfile.mkdtemp(prefix="transcode-emulator-"))
    try:
        if options.mode == "in-process":
            return _start_in_process(options, root)
        return _start_subprocess(options, root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _start_subprocess(options: EmulatorOptions, root: Path) -> TranscodeEmulator:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env.update({f"EMULATOR_{k.upper()}": str(v) for k, v in options.settings.items()})
    env.update(
        EMULATOR_HOST="127.0.0.1",
        EMULATOR_PORT=str(port),
        EMULATOR_S3_PORT="0",
        EMULATOR_DATA_DIR=str(root / "data"),
        EMULATOR_ACCESS_KEY_ID=options.access_key_id,
        EMULATOR_ACCESS_KEY_SECRET=options.access_key_secret,
        EMULATOR_WORKER_CONCURRENCY=str(options.concurrency),
        **({"EMULATOR_CONTROL_TOKEN": options.control_token} if options.control_token else {}),
    )
    log_path = root / "emulator.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)

    base_url = f"http://127.0.0.1:{port}"
    try:
        s3_endpoint = _wait_healthy(
            base_url, options.startup_timeout_s, alive=lambda: process.poll() is None
        )
    except EmulatorStartError as exc:
        tail = log_path.read_text(errors="replace")[-3000:]
        stop()
        raise EmulatorStartError(f"{exc}; its output:\n{tail}") from None
    return TranscodeEmulator(
        base_url=base_url,
        options=options,
        s3_endpoint=s3_endpoint,
        data_dir=root / "data",
        started_in_s=time.monotonic() - started,
        stop=stop,
    )


def _start_in_process(options: EmulatorOptions, root: Path) -> TranscodeEmulator:
    started = time.monotonic()  # importing the server is part of starting it
    from emulator.config import Settings
    from emulator.server import EmulatorServer

    values: dict[str, Any] = {k: v for k, v in options.settings.items() if k not in _OWN_SETTINGS}
    values.update(
        {
            "host": "127.0.0.1",
            "port": 0,
            "s3_port": 0,
            "data_dir": root / "data",
            "database_url": None,
            "s3_endpoint_url": None,
            "public_url": None,
            "public_s3_url": None,
            "control": "on",
            "access_key_id": options.access_key_id,
            "access_key_secret": options.access_key_secret,
            "control_token": options.control_token,
            "worker_concurrency": options.concurrency,
        }
    )
    server = EmulatorServer(Settings(**values)).start(timeout_s=options.startup_timeout_s)

    def stop() -> None:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    return TranscodeEmulator(
        base_url=server.base_url,
        options=options,
        s3_endpoint=str(server.app.state.ctx.s3_endpoint),
        data_dir=root / "data",
        started_in_s=time.monotonic() - started,
        stop=stop,
    )


def _wait_healthy(base_url: str, timeout_s: float, *, alive: Callable[[], bool]) -> str:
    """Poll /_emulator/health until it answers 200; returns the S3 endpoint it reports."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive():
            raise EmulatorStartError("the emulator exited while starting")
        try:
            response = httpx.get(f"{base_url}/_emulator/health", timeout=2)
            if response.status_code == 200:
                return str(response.json()["s3_endpoint"])
            last = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise EmulatorStartError(f"{base_url} was not healthy within {timeout_s:g} s ({last})")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
