"""Persistence across app instances, and the CLI's sign and migrate commands."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import cli
from emulator.client import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.server import EmulatorServer
from tests.conftest import make_settings


def test_second_instance_sees_everything_the_first_wrote(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", worker_concurrency=0)
    with (
        EmulatorServer(settings) as first,
        TranscodeClient(first.base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api,
    ):
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "oss", "bucket": "keep"}
        )
        api.call("POST", "/api/add_template", {"name": "kept", "quality": 9})
        task = api.call(
            "POST",
            "/api/create_task",
            {
                "template_name": "kept",
                "input": "http://127.0.0.1:1/a.mp4",
                "output": "a.mp4",
                "storage_id": storage["storage_id"],
            },
        )
    with (
        EmulatorServer(make_settings(tmp_path / "data", worker_concurrency=0)) as second,
        TranscodeClient(second.base_url, DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET) as api,
    ):
        assert (
            api.call("GET", "/api/list_storage")["list"][0]["storage_id"] == storage["storage_id"]
        )
        assert api.call("GET", "/api/query_template", {"name": "kept"})["quality"] == 9
        got = api.call("GET", "/api/query_task", {"task_id": task["task_id"]})
        assert (got["status"], got["template_name"]) == ("pending", "kept")


def test_data_dir_is_owner_only(tmp_path: Path) -> None:
    with EmulatorServer(make_settings(tmp_path / "data", worker_concurrency=0)):
        pass
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


def test_sign_prints_headers(capsys: object) -> None:
    assert cli.main(["sign", "GET", "/api/list_storage"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "Date: " in out and f"AccessKeyId={DEV_ACCESS_KEY_ID}" in out
    assert cli.main(["sign", "POST", "/api/add_template", "--json", "{bad"]) == 2


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed here")
def test_sign_curl_works_against_a_running_emulator(tmp_path: Path) -> None:
    with EmulatorServer(make_settings(tmp_path / "data", worker_concurrency=0)) as server:
        for scheme in ("primary", "legacy"):
            printed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "emulator",
                    "sign",
                    "POST",
                    "/api/add_template",
                    "--json",
                    f'{{"name":"via-curl-{scheme}","quality":3}}',
                    "--scheme",
                    scheme,
                    "--curl",
                    server.base_url,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            args = shlex.split(printed)
            assert args[0] == "curl"
            answer = subprocess.run(args, capture_output=True, text=True, check=True).stdout
            assert json.loads(answer)["code"] == 0, answer


def test_migrate_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "migrate", "--data-dir", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "up to date" in done.stdout
    assert (tmp_path / "m" / "emulator.sqlite3").exists()
