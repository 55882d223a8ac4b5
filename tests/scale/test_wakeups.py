"""Across processes a new task reaches an idle worker without a write poll: PostgreSQL's
LISTEN/NOTIFY (emulator/db/tasks.py announce(), worker/loop.py _listen)."""

from __future__ import annotations

import time
from pathlib import Path

from emulator.client import TranscodeClient
from emulator.db.engine import Database
from emulator.server import EmulatorServer
from emulator.transcode.clips import make_clip
from emulator.worker import Worker
from tests.conftest import make_settings, wait_for


def test_a_worker_elsewhere_hears_of_a_new_task_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "api", database_url=pg_url, worker_concurrency=0)
    with EmulatorServer(settings) as server:
        ctx = server.app.state.ctx
        ctx.objects.ensure_bucket("inputs")
        ctx.objects.upload_file(make_clip(tmp_path / "clip.mp4"), "inputs", "clip.mp4")
        # Its own database and wakeup, as another process has, and a poll too slow to matter:
        # only the NOTIFY (or the 5 s safety look) can wake it.
        db = Database(pg_url)
        elsewhere = Worker(
            settings=make_settings(tmp_path / "worker", database_url=pg_url),
            db=db,
            objects=ctx.objects,
            poll_s=600,
        )
        elsewhere.start()
        try:
            with TranscodeClient(
                server.base_url, settings.access_key_id, settings.access_key_secret
            ) as api:
                storage = api.call(
                    "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
                )["storage_id"]
                time.sleep(1)  # the listener is up, the slots idle
                params = {
                    "template_name": "origin",
                    "input": "s3://inputs/clip.mp4",
                    "output": "heard.mp4",
                    "storage_id": storage,
                }
                created = time.monotonic()
                task_id = api.call("POST", "/api/create_task", params)["task_id"]
                wait_for(api, task_id, until=lambda d: d["status"] != "pending")
                heard_after = time.monotonic() - created
                assert wait_for(api, task_id)["status"] == "success"
        finally:
            elsewhere.stop()
            db.dispose()
    assert heard_after < 3.0  # well inside the 5 s safety look: the NOTIFY woke it
