"""TaskChanges: a worker thread's notify() wakes the long-polls waiting on an event loop."""

from __future__ import annotations

import asyncio
import threading

from emulator.services.changes import TaskChanges


def test_notify_from_a_thread_wakes_every_listener() -> None:
    changes = TaskChanges()

    async def wait_for_both() -> None:
        with changes.listen() as first, changes.listen() as second:
            threading.Thread(target=changes.notify).start()
            await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), timeout=10)

    asyncio.run(wait_for_both())


def test_a_listener_that_left_is_not_woken() -> None:
    changes = TaskChanges()

    async def listen_then_leave() -> asyncio.Event:
        with changes.listen() as event:
            pass
        changes.notify()
        await asyncio.sleep(0)  # let any scheduled callback run
        return event

    assert not asyncio.run(listen_then_leave()).is_set()
