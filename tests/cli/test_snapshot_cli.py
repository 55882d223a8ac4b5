"""`transcode-emulator snapshot save|list|restore|delete NAME` against a running emulator."""

from __future__ import annotations

from emulator.client import TranscodeClient
from tests.cli.conftest import Cli


def test_save_list_restore_delete(api: TranscodeClient, cli: Cli) -> None:
    storage_id = api.add_storage("cn-hz", "s3", "kept").storage_id
    saved = cli("snapshot", "save", "cli-base")
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("saved cli-base: 0 tasks, 1 storages, 0 templates")

    listed = cli("snapshot", "list")
    assert listed.returncode == 0, listed.stderr
    assert "REVISION" in listed.stdout.splitlines()[0]
    assert listed.stdout.splitlines()[1].startswith("cli-base")
    assert cli("snapshot").stdout == listed.stdout  # list is the default

    api.control.reset()
    restored = cli("snapshot", "restore", "cli-base")
    assert restored.returncode == 0, restored.stderr
    assert [s.storage_id for s in api.list_storage().list] == [storage_id]

    deleted = cli("snapshot", "delete", "cli-base")
    assert (deleted.returncode, deleted.stdout) == (0, "deleted cli-base\n")
    assert cli("snapshot", "list").stdout == "no snapshots\n"


def test_an_unknown_or_bad_name_is_one_line_and_status_1(api: TranscodeClient, cli: Cli) -> None:
    unknown = cli("snapshot", "restore", "nowhere")
    assert unknown.returncode == 1
    assert "1004 empty result: name: no snapshot 'nowhere'" in unknown.stderr
    bad = cli("snapshot", "save", "no/slash")
    assert bad.returncode == 1
    assert "1002 bad param: name:" in bad.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr
