"""services.tasks.get: the one way to read a task, on a session over a temporary SQLite file.

It reads through the ORM on a fresh session each time, so no thread or process ever sees a
row older than the last commit (the per-thread row cache that once sat beneath it is gone).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import EmptyResult
from emulator.services import tasks


def add_task(db: Database, task_id: str) -> None:
    with db.write() as session:
        session.add(
            Task(
                task_id=task_id,
                template_name="480p",
                template_id="t",
                template={},
                storage_id="s",
                storage={"region": "r", "type": "s3", "bucket": "b"},
                input="http://example.invalid/in.mp4",
                output="o.mp4",
                objkey="o.mp4",
                create_time=1_700_000_000,
            )
        )


def status(db: Database, task_id: str) -> str:
    with db.read() as session:
        return tasks.get(session=session, task_id=task_id).status


def test_get_of_an_unknown_task_is_empty_result(db: Database) -> None:
    with db.read() as session, pytest.raises(EmptyResult):
        tasks.get(session=session, task_id="nope")


def test_get_of_a_deleted_task_is_empty_result(db: Database) -> None:
    add_task(db, "t-deleted")
    with db.write() as session:
        task = session.get(Task, "t-deleted")
        assert task is not None
        task.deleted = True
    with db.read() as session, pytest.raises(EmptyResult):
        tasks.get(session=session, task_id="t-deleted")


def test_get_sees_another_process_commit_at_once(db: Database, tmp_path: Path) -> None:
    add_task(db, "t-proc")
    assert status(db, "t-proc") == "pending"
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute(\"UPDATE tasks SET status = 'running' WHERE task_id = 't-proc'\"); c.commit()"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "emulator.sqlite3")], check=True)
    assert status(db, "t-proc") == "running"


def test_get_sees_another_thread_commit_at_once(db: Database) -> None:
    add_task(db, "t-thread")
    seen: list[str] = [status(db, "t-thread")]

    def move() -> None:
        with db.write() as session:
            task = session.get(Task, "t-thread")
            assert task is not None
            task.status = "downloading"

    writer = threading.Thread(target=move)
    writer.start()
    writer.join()
    reader = threading.Thread(target=lambda: seen.append(status(db, "t-thread")))
    reader.start()
    reader.join()
    seen.append(status(db, "t-thread"))
    assert seen == ["pending", "downloading", "downloading"]
