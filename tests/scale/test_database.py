"""The database layer on SQLite and PostgreSQL: migrations, write locks, claims, leases, nonces."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import select

from emulator.db import tasks as machine
from emulator.db.engine import Database, display_url, normalize_url
from emulator.db.migrate import alembic_config, downgrade, migrate
from emulator.db.models import Task
from emulator.services.nonces import NonceCache
from tests.processes import CLI, env_for
from tests.scale.pg import fresh_database

TABLES = {"access_keys", "storages", "templates", "tasks", "kv", "callback_deliveries", "nonces"}


def head() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revision = script.get_current_head()
    assert revision is not None
    return revision


def version(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


@pytest.fixture
def db(backend_url: str) -> Iterator[Database]:
    """A migrated database with no tasks (PostgreSQL's is shared by this module's tests)."""
    database = Database(backend_url)
    migrate(database)
    with database.write() as session:
        session.execute(text("DELETE FROM tasks"))
        session.execute(text("DELETE FROM nonces"))
    yield database
    database.dispose()


def add_tasks(db: Database, count: int) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    with db.write() as session:
        for index, task_id in enumerate(ids):
            session.add(
                Task(
                    task_id=task_id,
                    template_name="origin",
                    template_id="builtin-origin",
                    template={"format": "mp4", "extra": {"nested": [1, 2.5, None]}},
                    storage_id="s",
                    storage={"bucket": "out"},
                    input="s3://in/clip.mp4",
                    output="o.mp4",
                    objkey="o.mp4",
                    create_time=1_700_000_000.123456 + index,
                )
            )
    return ids


def test_migrations_go_up_down_and_up_again(backend_url: str) -> None:
    db = Database(backend_url)
    migrate(db)
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert version(db) == head()
    downgrade(db, revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate(db)
    assert version(db) == head()
    with db.read() as session:  # the built-in templates of 0001 came back
        assert session.execute(text("SELECT count(*) FROM templates")).scalar_one() == 5
    db.dispose()


def test_json_booleans_and_float_times_round_trip(db: Database) -> None:
    (task_id,) = add_tasks(db, 1)
    with db.write() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.deleted = True
        task.stage_times = {"pending": 1_700_000_000.654321}
        session.add(task)
    with db.read() as session:
        task = session.get(Task, task_id)
        assert task is not None
        assert task.template == {"format": "mp4", "extra": {"nested": [1, 2.5, None]}}
        assert task.deleted is True and task.create_time == 1_700_000_000.123456
        assert task.stage_times == {"pending": 1_700_000_000.654321}
        assert session.exec(select(Task).where(Task.deleted == True)).one().task_id == task_id  # noqa: E712


def test_processes_migrating_at_once_take_turns() -> None:
    with fresh_database() as url:
        databases = [Database(url) for _ in range(4)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(migrate, databases))
        assert version(databases[0]) == head()
        for database in databases:
            database.dispose()


def test_migrate_command_on_postgresql(tmp_path: Path) -> None:
    with fresh_database() as url:
        result = subprocess.run(
            [*CLI, "migrate", "--database-url", url.replace("postgresql+psycopg", "postgresql")],
            env=env_for(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "is up to date" in result.stdout and "postgresql+psycopg://" in result.stdout
        db = Database(url)
        assert version(db) == head()
        db.dispose()


def test_urls_are_normalized_and_passwords_masked() -> None:
    assert normalize_url("postgres://u:pw@h/db") == "postgresql+psycopg://u:pw@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    assert display_url("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"


def test_concurrent_claims_never_share_a_task(db: Database) -> None:
    ids = add_tasks(db, 120)
    claimed: list[tuple[str, str]] = []

    def claimer(worker: str) -> None:
        while True:
            with db.write(concurrent=True) as session:
                task = machine.claim(session, worker_id=worker)
            if task is None:
                with db.read() as session:
                    if not session.exec(select(Task).where(Task.status == "pending")).first():
                        return
                continue
            claimed.append((task.task_id, worker))

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(task_id for task_id, _ in claimed) == sorted(ids)
    with db.read() as session:
        rows = session.exec(select(Task)).all()
    assert {row.attempts for row in rows} == {1}
    assert {row.task_id: row.worker_id for row in rows} == dict(claimed)
    assert len({worker for _, worker in claimed}) > 1


def test_claims_skip_a_locked_row_without_waiting(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: there is no row lock to skip")
    first, second = add_tasks(db, 2)
    holding, release = threading.Event(), threading.Event()

    def slow_claimer() -> None:
        with db.write(concurrent=True) as session:
            task = machine.claim(session, worker_id="slow")
            assert task is not None and task.task_id == first
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=slow_claimer)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with db.write(concurrent=True) as session:
        task = machine.claim(session, worker_id="fast")
    assert task is not None and task.task_id == second
    assert time.monotonic() - started < 1, "the second claim waited for the first one's lock"
    release.set()
    thread.join(10)


def test_exclusive_writers_wait_for_task_row_writers(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("on SQLite every write transaction is exclusive (BEGIN IMMEDIATE)")
    inside, release, exclusive_done = threading.Event(), threading.Event(), threading.Event()

    def row_writer() -> None:
        with db.write(concurrent=True):
            inside.set()
            release.wait(10)

    def exclusive_writer() -> None:
        with db.write():
            exclusive_done.set()

    row = threading.Thread(target=row_writer)
    row.start()
    assert inside.wait(10)
    other = threading.Thread(target=exclusive_writer)
    other.start()
    assert not exclusive_done.wait(0.3), "an exclusive writer ran beside a task-row writer"
    release.set()
    assert exclusive_done.wait(10)
    row.join(10)
    other.join(10)


def test_a_dead_workers_task_is_requeued_once_and_its_beat_is_lost(db: Database) -> None:
    (task_id,) = add_tasks(db, 1)
    with db.write(concurrent=True) as session:
        assert machine.claim(session, worker_id="dead") is not None
    with db.write(concurrent=True) as session:
        assert machine.requeue_stale(session, lease_s=60) == []
        task = session.get(Task, task_id)
        assert task is not None
        task.heartbeat_at = time.time() - 61
        session.add(task)
    with ThreadPoolExecutor(4) as pool:  # maintenance threads of several workers at once

        def requeue(_: int) -> list[str]:
            with db.write(concurrent=True) as session:
                return machine.requeue_stale(session, lease_s=60)

        requeued = [task for batch in pool.map(requeue, range(4)) for task in batch]
    assert requeued == [task_id]
    with db.write(concurrent=True) as session:
        assert machine.heartbeat(session, task_id=task_id, worker_id="dead") == "lost"
        again = machine.claim(session, worker_id="alive")
    assert again is not None and again.attempts == 2


def test_nonces_are_shared_through_the_database(db: Database) -> None:
    node_a, node_b = NonceCache(window_s=900), NonceCache(window_s=900)
    node_a.share_through(db)
    node_b.share_through(db)
    assert node_a.check_and_add("n-1")
    assert not node_b.check_and_add("n-1") and not node_a.check_and_add("n-1")
    long = "x" * 500
    assert node_b.check_and_add(long) and not node_a.check_and_add(long)
    node_a.clear()
    assert node_b.check_and_add("n-1")


def test_an_expired_nonce_is_fresh_again_and_old_rows_are_pruned(db: Database) -> None:
    cache = NonceCache(window_s=0.2)
    cache.share_through(db)
    assert cache.check_and_add("again")
    assert not cache.check_and_add("again")
    deadline = time.monotonic() + 5
    while not cache.check_and_add("again"):
        assert time.monotonic() < deadline, "the nonce never expired"
        time.sleep(0.05)
    with db.write() as session:  # an old row from a node long gone
        session.execute(text("INSERT INTO nonces VALUES ('ancient', 1.0)"))
    other = NonceCache(window_s=0.2)
    other.share_through(db)
    assert other.check_and_add("fresh")  # a new cache prunes on its first check
    with db.read() as session:
        left = session.execute(text("SELECT nonce FROM nonces")).scalars().all()
    assert "ancient" not in left and "fresh" in left
