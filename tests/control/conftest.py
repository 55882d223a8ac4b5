"""Control API tests run against an emulator without a worker unless a module says otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


@pytest.fixture
def control(api: TranscodeClient) -> ControlClient:
    """The control API of a freshly reset emulator."""
    return api.control
