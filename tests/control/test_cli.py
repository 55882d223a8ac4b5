"""CLI mirrors of the control API: reset, keys, tasks against a running emulator."""

from __future__ import annotations

import pytest

from emulator.cli import main
from emulator.client import TranscodeClient
from emulator.server import EmulatorServer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_reset(
    api: TranscodeClient, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add_storage("cn-hz", "s3", "cli")
    code, out, _ = run(capsys, "reset", "--url", emulator.base_url, "--parts", "storages")
    assert (code, out) == (0, "reset: storages\n")
    assert api.list_storage().num == 0


def test_keys_lifecycle(
    api: TranscodeClient, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = emulator.base_url
    code, out, _ = run(
        capsys, "keys", "--url", url, "create", "--access-key-id", "CLIKEYID00000001"
    )
    assert code == 0 and "AccessKeyId      CLIKEYID00000001" in out
    assert run(capsys, "keys", "disable", "CLIKEYID00000001", "--url", url)[1] == (
        "CLIKEYID00000001 disabled\n"
    )
    code, out, _ = run(capsys, "keys", "--url", url)
    lines = out.splitlines()
    assert lines[0].split() == ["ACCESS", "KEY", "ID", "STATE", "CREATED", "(UTC)"]
    assert any(
        line.startswith(f"{emulator.settings.access_key_id}  enabled   configured")
        for line in lines
    )
    assert any(line.startswith("CLIKEYID00000001  disabled") for line in lines)
    assert run(capsys, "keys", "--url", url, "delete", "CLIKEYID00000001")[0] == 0


def test_errors_are_one_line(emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "keys", "--url", emulator.base_url, "enable", "NOSUCHKEY0000001")
    assert code == 1
    assert (
        err
        == "transcode-emulator: 1004 empty result: access key 'NOSUCHKEY0000001' does not exist\n"
    )
    code, _, err = run(capsys, "tasks", "--url", "http://127.0.0.1:9")
    assert code == 1 and err.startswith("transcode-emulator: cannot reach the emulator")


def test_tasks_table(
    api: TranscodeClient, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "tasks", "--url", emulator.base_url)[1] == "no tasks\n"
    storage = api.add_storage("cn-hz", "s3", "cli").storage_id
    task = api.create_task("480p", "http://127.0.0.1:1/a.mp4", "a.mp4", storage).task_id
    _, out, _ = run(capsys, "tasks", "--url", emulator.base_url, "--status", "pending")
    header, row = out.splitlines()
    assert header.split()[:4] == ["TASK", "ID", "STATUS", "PROGRESS"]
    assert row.split()[:4] == [task, "pending", "0%", "480p"]


def test_token_from_the_environment(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_PORT", str(emulator.settings.port))
    monkeypatch.setenv("EMULATOR_CONTROL_TOKEN", "unused-here")
    assert run(capsys, "keys")[0] == 0  # URL from EMULATOR_PORT; this emulator needs no token
