"""All settings in one place: EMULATOR_* environment variables, overridden by CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The documented development key pair (README "Authentication"): used when none is configured.
DEV_ACCESS_KEY_ID = "EMULATORAKID0001"
DEV_ACCESS_KEY_SECRET = "emulatorSecretKey0123456789abcde"

Stage = Literal["pending", "downloading", "running", "uploading"]


class Settings(BaseSettings):
    """Every knob of the emulator; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path(".emulator-data")
    # Named snapshots of the whole state (services/snapshots.py); None: <data_dir>/snapshots.
    snapshot_dir: Path | None = None
    database_url: str | None = None
    log_level: str = "info"
    # The console's format: a line per request and per task transition (emulator/logs.py).
    log_format: Literal["text", "json"] = "text"

    access_key_id: str = DEV_ACCESS_KEY_ID
    access_key_secret: str = DEV_ACCESS_KEY_SECRET
    auth: Literal["on", "off"] = "on"
    auth_schemes: Literal["all", "primary"] = "all"
    date_skew_s: int = Field(900, ge=1)

    s3_port: int = Field(9000, ge=0, le=65535)
    s3_endpoint_url: str | None = None
    public_s3_url: str | None = None
    public_url: str | None = None
    create_buckets: Literal["on", "off"] = "on"
    # A JSON or YAML file of storages (fixed ids), templates and keys, applied at every start
    # and after every reset (services/seed.py).
    seed: Path | None = None
    # Web pages allowed to read the embedded S3 besides the dashboard's (comma-separated
    # origins, "*": any), and what they may do: a browser's writes are refused by default.
    s3_cors_origins: str = ""
    s3_cors_methods: str = "GET,HEAD"

    # Task slots of `serve` and `worker`: one per CPU, so parallel tasks use the machine.
    worker_concurrency: int = Field(default_factory=lambda: default_concurrency(), ge=0, le=64)
    worker_lease_s: float = Field(15.0, gt=0)
    # Tries a task gets when its worker keeps dying under it (kill -9, the OOM killer): once its
    # lease expires on the last one, it fails (2003) instead of going back to pending.
    worker_max_tries: int = Field(3, ge=1, le=100)
    worker_poll_s: float = Field(0.2, gt=0)
    hold_stage: Stage | None = None
    encoder_preset: str = "veryfast"
    max_input_bytes: int = Field(2 * 1024**3, ge=1)
    input_timeout_s: float = Field(60.0, gt=0)
    task_timeout: float = Field(3600.0, gt=0, description="seconds")
    # Output pixels per second of one task, summed over its renditions: 3840x2160 at 60 fps.
    max_pixel_rate: int = Field(3840 * 2160 * 60, ge=1)
    # Address space of each ffmpeg (0: unlimited). A 4K60 encode with 24 x264 threads (a
    # 16-core host) maps about 4.1 GB at the default preset; an idle ffmpeg about 0.5 GB.
    ffmpeg_memory_mb: int = Field(6144, ge=0)
    # "on" refuses loopback, private and link-local addresses for inputs, logos and callbacks
    # (every redirect hop too): for a shared deployment; a local tool keeps them allowed.
    block_private_networks: Literal["on", "off"] = "off"

    control: Literal["on", "off"] = "on"
    control_token: str | None = None
    # Host names served besides localhost, 127.0.0.1, [::1], the public URLs' and a specific
    # --host (comma-separated, "*": any); others get 403, against DNS rebinding (origins.py).
    # The Docker image and compose add their service names.
    allowed_hosts: str = ""
    # The last N vendor-API requests kept for GET /_emulator/requests (0: none are kept).
    request_log_size: int = Field(1000, ge=0, le=100_000)
    # ...and the memory they may take: past it the oldest entries go (values are truncated).
    request_log_bytes: int = Field(8 * 1024**2, ge=0)
    # Requests kept per callback inbox (/_emulator/inbox/{name}): past it the oldest go.
    inbox_size: int = Field(1000, ge=1, le=100_000)
    # Request line and headers of one request, counted by the HTTP server before the app sees
    # them: past it the answer is 431 and the rest is not read (an unbounded header is memory).
    max_header_bytes: int = Field(32 * 1024, ge=1024, le=1024**2)

    @field_validator("access_key_id")
    @classmethod
    def _ak_is_16(cls, value: str) -> str:
        if len(value) != 16:
            raise ValueError("EMULATOR_ACCESS_KEY_ID must be 16 characters")
        return value

    @field_validator("access_key_secret")
    @classmethod
    def _sk_is_32(cls, value: str) -> str:
        if len(value) != 32:
            raise ValueError("EMULATOR_ACCESS_KEY_SECRET must be 32 characters")
        return value

    @property
    def uses_dev_keys(self) -> bool:
        return (self.access_key_id, self.access_key_secret) == (
            DEV_ACCESS_KEY_ID,
            DEV_ACCESS_KEY_SECRET,
        )

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'emulator.sqlite3'}"

    @property
    def snapshots_path(self) -> Path:
        return self.snapshot_dir or self.data_dir / "snapshots"

    @property
    def api_base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{display_host(self.host)}:{self.port}"


def display_host(host: str) -> str:
    """The address a client on this machine should use for a bind address."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def default_concurrency() -> int:
    """One worker slot per CPU this process may run on (at least 1, at most 64)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 64))
