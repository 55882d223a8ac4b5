"""services.tasks.retry and cancel: the dashboard's task actions, over del_task and create_task."""

from __future__ import annotations

import pytest

from emulator.db import tasks as machine
from emulator.db.engine import Database
from emulator.db.models import Task
from emulator.errors import BadParam, OperationFail
from emulator.services import storages, tasks, templates


@pytest.fixture
def storage_id(db: Database) -> str:
    with db.write() as session:
        return storages.add(
            session=session, type="s3", region="cn-hz", bucket="out", now=1_700_000_000
        ).storage_id


def pending_task(db: Database, storage_id: str, template: str = "480p") -> str:
    with db.write() as session:
        return tasks.create(
            session=session,
            template_name=template,
            input="https://example.invalid/in.mp4",
            output="retry/out.mp4",
            storage_id=storage_id,
        ).task_id


def finished_task(db: Database, storage_id: str, template: str = "480p") -> str:
    task_id = pending_task(db, storage_id, template)
    with db.write() as session:
        task = tasks.get(session=session, task_id=task_id)
        machine.transition(session, task, "fail", err_code=2001, err_msg="download failed")
    return task_id


def test_a_retry_has_the_same_parameters_and_names_its_original(
    db: Database, storage_id: str
) -> None:
    original = finished_task(db, storage_id)
    with db.write() as session:
        again = tasks.retry(session=session, task_id=original).task_id
    with db.read() as session:
        first, second = (tasks.get(session=session, task_id=t) for t in (original, again))
        params = ("template_name", "input", "output", "storage_id", "objkey")
        assert [getattr(second, p) for p in params] == [getattr(first, p) for p in params]
        assert (second.status, second.retry_of, first.retry_of) == ("pending", original, None)
        assert tasks.retried_as(session=session, task_id=original) == [again]
        assert tasks.retried_as(session=session, task_id=again) == []


def test_retried_as_lists_every_retry_oldest_first(db: Database, storage_id: str) -> None:
    original = finished_task(db, storage_id)
    made = []
    for _ in range(2):
        with db.write() as session:
            made.append(tasks.retry(session=session, task_id=original).task_id)
    with db.read() as session:
        assert tasks.retried_as(session=session, task_id=original) == sorted(made)


def test_a_task_not_finished_is_not_retried(db: Database, storage_id: str) -> None:
    pending = pending_task(db, storage_id)
    with db.write() as session, pytest.raises(OperationFail, match="pending"):
        tasks.retry(session=session, task_id=pending)


def test_a_retry_after_the_storage_was_deleted_is_create_tasks_error(
    db: Database, storage_id: str
) -> None:
    original = finished_task(db, storage_id)
    with db.write() as session:
        storages.delete(session=session, storage_id=storage_id)
    with db.write() as session, pytest.raises(BadParam, match="does not exist"):
        tasks.retry(session=session, task_id=original)


def test_a_retry_after_the_template_was_deleted_is_create_tasks_error(
    db: Database, storage_id: str
) -> None:
    with db.write() as session:
        templates.add(session=session, name="gone-soon", fields={}, now=1_700_000_000)
    original = finished_task(db, storage_id, template="gone-soon")
    with db.write() as session:
        templates.delete(session=session, name="gone-soon")
    with db.write() as session, pytest.raises(BadParam, match="gone-soon"):
        tasks.retry(session=session, task_id=original)


def test_cancel_removes_a_pending_task(db: Database, storage_id: str) -> None:
    task_id = pending_task(db, storage_id)
    with db.write() as session:
        tasks.cancel(session=session, task_id=task_id)
    with db.read() as session:
        assert session.get(Task, task_id) is None


def test_cancel_leaves_a_finished_task(db: Database, storage_id: str) -> None:
    task_id = finished_task(db, storage_id)
    with db.write() as session, pytest.raises(OperationFail, match="nothing to cancel"):
        tasks.cancel(session=session, task_id=task_id)
    with db.read() as session:
        assert tasks.get(session=session, task_id=task_id).status == "fail"
