"""Shared fixtures: one real emulator per module (reset before each test), signed clients, clips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.config import Settings
from emulator.server import EmulatorServer


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "port": 0, "s3_port": 0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    """Override in a module to start its emulator differently."""
    return {}


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory, emulator_settings: dict[str, Any]
) -> Iterator[EmulatorServer]:
    settings = make_settings(tmp_path_factory.mktemp("data"), **emulator_settings)
    with EmulatorServer(settings) as server:
        yield server


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[TranscodeClient]:
    """A signed client of a freshly reset emulator."""
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    settings = emulator.settings
    with TranscodeClient(
        emulator.base_url, settings.access_key_id, settings.access_key_secret
    ) as client:
        yield client
