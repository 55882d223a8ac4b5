"""The pytest plugin's snapshot option: every test starts from a named snapshot, not a reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.conftest import make_settings
from tests.test_plugin import STRICT_INI

pytest_plugins = ["pytester"]

FROM_SNAPSHOT = """
def test_one(transcode_client):
    assert [s.bucket for s in transcode_client.list_storage().list] == ["from-snapshot"]
    transcode_client.add_storage("cn-hz", "s3", "added-by-test-one")


def test_two(transcode_client):
    assert [s.bucket for s in transcode_client.list_storage().list] == ["from-snapshot"]
"""


def save_baseline(tmp_path: Path, snapshots: Path) -> None:
    settings = make_settings(tmp_path / "maker", worker_concurrency=0, snapshot_dir=snapshots)
    with EmulatorServer(settings) as server:
        s = server.settings
        with TranscodeClient(server.base_url, s.access_key_id, s.access_key_secret) as api:
            api.add_storage("cn-hz", "s3", "from-snapshot")
            api.control.save_snapshot("baseline")


def test_each_test_starts_from_the_snapshot(pytester: pytest.Pytester, tmp_path: Path) -> None:
    save_baseline(tmp_path, pytester.path / "snaps")
    extra = "\n".join(
        [
            "transcode_emulator_mode = in-process",
            "transcode_emulator_concurrency = 0",
            "transcode_emulator_snapshot_dir = snaps",
        ]
    )
    pytester.makeini(STRICT_INI.format(extra=extra))
    pytester.makepyfile(test_snap=FROM_SNAPSHOT)
    result = pytester.runpytest_subprocess("--transcode-emulator-snapshot=baseline", timeout=120)
    result.assert_outcomes(passed=2)


def test_a_missing_snapshot_says_how_to_make_one(pytester: pytest.Pytester) -> None:
    extra = "\n".join(
        [
            "transcode_emulator_mode = in-process",
            "transcode_emulator_concurrency = 0",
            "transcode_emulator_snapshot = nowhere",
        ]
    )
    pytester.makeini(STRICT_INI.format(extra=extra))
    pytester.makepyfile(test_snap=FROM_SNAPSHOT)
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*cannot restore snapshot 'nowhere'*save it first*"])
