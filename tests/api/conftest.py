"""API tests run against an emulator whose tasks stay pending unless a module says otherwise."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}
