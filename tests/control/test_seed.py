"""EMULATOR_SEED: applied at start and after every reset; a conflict stops start-up in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.conftest import make_settings

SEED = {
    "storages": [{"storage_id": "seeded0000000001", "type": "s3", "region": "cn-hz",
                  "bucket": "seeded"}],
    "templates": [{"name": "seeded-mobile", "resolution": "360p"}],
    "access_keys": [{"access_key_id": "SEEDAKID00000001", "access_key_secret": "s" * 32}],
}  # fmt: skip


@pytest.fixture(scope="module")
def emulator_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("seed") / "seed.json"
    path.write_text(json.dumps(SEED))
    return {"seed": path}


def seeded(api: TranscodeClient) -> tuple[list[str], list[str]]:
    storages = [s.storage_id for s in api.list_storage().list]
    names = [t.name for t in api.list_template().list]
    return storages, names


def test_the_seed_is_there_after_start_and_after_every_reset(
    api: TranscodeClient, emulator: EmulatorServer, s3: Any
) -> None:
    storages, names = seeded(api)
    assert storages == ["seeded0000000001"] and "seeded-mobile" in names
    assert s3.bucket_exists("seeded")
    api.del_storage("seeded0000000001")
    api.del_template("seeded-mobile")
    httpx.post(f"{emulator.base_url}/_emulator/reset", timeout=30).raise_for_status()
    storages, names = seeded(api)
    assert storages == ["seeded0000000001"] and "seeded-mobile" in names
    assert s3.bucket_exists("seeded")  # the reset emptied the store; the seed made it again
    with TranscodeClient(emulator.base_url, "SEEDAKID00000001", "s" * 32) as seeded_key:
        assert seeded_key.list_storage().num == 1


def test_a_restart_keeps_the_seeded_rows(emulator: EmulatorServer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", seed=emulator.settings.seed, worker_concurrency=0)
    for _ in range(2):  # the second start finds every row and keeps it
        with EmulatorServer(settings) as server:
            s = server.settings
            with TranscodeClient(server.base_url, s.access_key_id, s.access_key_secret) as api:
                assert seeded(api)[0] == ["seeded0000000001"]


def test_a_conflict_stops_start_up_with_one_line(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", worker_concurrency=0)
    with EmulatorServer(settings) as server:  # a template the seed will disagree with
        s = server.settings
        with TranscodeClient(server.base_url, s.access_key_id, s.access_key_secret) as api:
            api.add_template("seeded-mobile", resolution="720p")
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"templates": [{"name": "seeded-mobile", "resolution": "360p"}]}))
    from emulator.app import create_app
    from emulator.services.seed import SeedError

    app = create_app(settings.model_copy(update={"seed": path}))
    with pytest.raises(SeedError) as raised:
        app.state.runtime.start()
    assert str(raised.value) == (
        f"seed file {path}: template 'seeded-mobile' exists with other values "
        "(resolution: '720p', the seed says '360p')"
    )
    app.state.runtime.stop()
