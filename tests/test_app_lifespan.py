"""create_app's lifespan: on_ready runs once everything has started (`serve` turns the
garbage collector back on there, README Performance)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from emulator.app import create_app
from tests.conftest import make_settings


def test_on_ready_runs_once_the_runtime_has_started(tmp_path: Path) -> None:
    seen: list[tuple[bool, str | None]] = []
    app = create_app(
        make_settings(tmp_path, worker_concurrency=0),
        on_ready=lambda: seen.append((app.state.ctx.ready, app.state.ctx.s3_endpoint)),
    )

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            ((ready, s3_endpoint),) = seen
            assert ready and s3_endpoint and s3_endpoint.startswith("http://")

    asyncio.run(start_and_stop())
    assert len(seen) == 1
    assert not app.state.ctx.ready  # stopped
