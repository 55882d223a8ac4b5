"""v1 fixtures: a Basic-auth v1 client beside the signed /api/ one, on the same reset emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.server import EmulatorServer


@pytest.fixture
def v1(api: TranscodeClient, emulator: EmulatorServer) -> Iterator[TranscodeClientV1]:
    """A v1 client of the emulator `api` has just reset."""
    s = emulator.settings
    with TranscodeClientV1(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client


@pytest.fixture(scope="module")
def v1_static(emulator: EmulatorServer) -> Iterator[TranscodeClientV1]:
    """A v1 client without a reset, for tests that leave nothing behind (refused requests)."""
    s = emulator.settings
    with TranscodeClientV1(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client
