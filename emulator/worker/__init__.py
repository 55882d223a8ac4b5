"""The worker: claims pending tasks and drives each through its stages, one thread per slot.

    loop.py    slots, claims, heartbeats, lease upkeep, wake-ups
    job.py     one task's stages: download, probe, transcode, package, upload
    hooks.py   holds and injected faults at each stage boundary
    settle.py  the one place a task's end is written
    alive.py   which temp dirs belong to live workers

`transcode-emulator worker` (a process of workers only) is started by runtime.run_worker_process.
"""

from emulator.worker.loop import Worker

__all__ = ["Worker"]
