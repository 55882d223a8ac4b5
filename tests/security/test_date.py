"""The primary scheme's Date must say its time zone: a zone-less one is 1003, saying so."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from emulator import signing
from emulator.server import EmulatorServer


@pytest.mark.parametrize("path", ["/api/list_template", "/vodencoding/v1/list_template"])
def test_date_without_a_time_zone_is_1003(emulator: EmulatorServer, path: str) -> None:
    # The current time, so only the missing zone is wrong (read as local time, it could pass).
    zoneless = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S")
    s = emulator.settings
    headers = signing.sign_request(
        method="GET",
        path=path,
        access_key_id=s.access_key_id,
        access_key_secret=s.access_key_secret,
        date=zoneless,
    )
    envelope = httpx.get(f"{emulator.base_url}{path}", headers=headers, timeout=10).json()
    assert envelope["code"] == 1003, envelope
    assert "time zone" in envelope["detail"], envelope


def test_date_in_gmt_is_accepted(emulator: EmulatorServer) -> None:
    s = emulator.settings
    headers = signing.sign_request(
        method="GET",
        path="/api/list_template",
        access_key_id=s.access_key_id,
        access_key_secret=s.access_key_secret,
    )
    envelope = httpx.get(f"{emulator.base_url}/api/list_template", headers=headers).json()
    assert envelope["code"] == 0, envelope
