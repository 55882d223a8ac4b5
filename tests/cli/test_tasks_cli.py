"""create-task, wait (long-poll), tasks, templates and storages against a running emulator."""

from __future__ import annotations

import re

from emulator.client import TranscodeClient
from tests.cli.conftest import Cli

UNREACHABLE = "http://127.0.0.1:1/a.mp4"  # fails in downloading at once (connection refused)


def test_create_task_prints_the_id_alone(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    done = cli(
        "create-task", "--template", "origin", "--input", UNREACHABLE, "--output", "a.mp4",
        "--storage-id", storage_id,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip()
    assert done.stdout == f"{task_id}\n" and re.fullmatch(r"\S+", task_id)
    assert api.query_task(task_id).objkey == "a.mp4"


def test_create_task_on_a_bucket_reuses_its_storage(
    api: TranscodeClient, cli: Cli, storage_id: str
) -> None:
    done = cli(
        "create-task", "--template", "origin", "--input", UNREACHABLE, "--output", "b.mp4",
        "--bucket", "out",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"storage {storage_id} (bucket out)\n"
    assert api.list_storage().num == 1


def test_create_task_on_a_new_bucket_adds_a_storage(api: TranscodeClient, cli: Cli) -> None:
    done = cli(
        "create-task", "--template", "origin", "--input", UNREACHABLE, "--output", "c.mp4",
        "--bucket", "fresh",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [storage] = api.list_storage().list
    assert (storage.bucket, done.stderr) == (
        "fresh",
        f"storage {storage.storage_id} added (bucket fresh)\n",
    )
    assert api.query_task(done.stdout.strip()).bucket == "fresh"


def test_wait_prints_each_status_and_exits_0_on_success(
    api: TranscodeClient, cli: Cli, storage_id: str, clip_url: str
) -> None:
    task = api.create_task("origin", clip_url, "ok.mp4", storage_id).task_id
    done = cli("wait", task, "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("success http"), lines
    statuses = [line.split()[0] for line in lines]
    assert statuses == sorted(set(statuses), key=statuses.index)  # each change printed once
    order = ["pending", "downloading", "running", "uploading", "success"]
    assert statuses == [s for s in order if s in statuses]


def test_query_task_prints_one_field(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    task = api.create_task("origin", UNREACHABLE, "f.mp4", storage_id).task_id
    done = cli("query-task", task, "--field", "objkey")
    assert (done.returncode, done.stdout) == (0, "f.mp4\n"), done.stderr
    missing = cli("query-task", task, "--field", "nope")
    assert missing.returncode == 1
    assert missing.stderr == "transcode-emulator query-task: the task has no field 'nope'\n"


def test_wait_exits_1_when_the_task_fails(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    task = api.create_task("origin", UNREACHABLE, "no.mp4", storage_id).task_id
    done = cli("wait", task, "--timeout", "30")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.fullmatch(r"fail \d+ .+", done.stdout.splitlines()[-1])


def test_wait_exits_3_on_timeout(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    with api.control.hold("downloading"):
        task = api.create_task("origin", UNREACHABLE, "slow.mp4", storage_id).task_id
        done = cli("wait", task, "--timeout", "0.5")
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith(f"transcode-emulator: task {task} still ")
    assert "success" not in done.stdout and "fail" not in done.stdout


def test_wait_on_an_unknown_task_is_one_line(api: TranscodeClient, cli: Cli) -> None:
    done = cli("wait", "nosuchtask")
    assert done.returncode == 1
    assert done.stderr.startswith("transcode-emulator: 1004 ") and done.stderr.count("\n") == 1


def test_listings(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    task = api.create_task("origin", UNREACHABLE, "l.mp4", storage_id).task_id
    tasks = cli("tasks", "--limit", "5").stdout.splitlines()
    assert tasks[0].split()[:2] == ["TASK", "ID"] and tasks[1].split()[0] == task
    templates = cli("templates").stdout.splitlines()
    assert templates[0].split()[0] == "NAME" and any(t.split()[0] == "origin" for t in templates)
    assert '"name": "origin"' in cli("templates", "origin").stdout
    storages = cli("storages").stdout.splitlines()
    assert storages[1].split()[0] == storage_id
