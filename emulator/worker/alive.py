"""Which worker temp dirs belong to live workers, so another worker's sweep leaves them alone.

Each worker holds an flock on `<data dir>/workers/<worker id>.alive` for as long as it lives.
An flock goes with the process (kill -9 included) and conflicts between two opens even in one
process, so any worker, here or elsewhere on this data dir, can tell a live worker's dir (an
idle one's included) from a dead worker's.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

# <data dir>/workers/<worker id>.alive: outside tmp/, which holds only task files.
ALIVE_DIR = "workers"
# A dir with no lock file yet may belong to a worker between its mkdir and its lock.
_NEW_DIR_S = 60.0


def alive_file(tmp_dir: Path) -> Path:
    return tmp_dir.parent.parent / ALIVE_DIR / f"{tmp_dir.name}.alive"


def hold_alive_lock(tmp_dir: Path) -> int:
    """Create the worker's temp dir and lock its `.alive` file; closing the fd releases it."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    alive_file(tmp_dir).parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(alive_file(tmp_dir), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def is_alive(path: Path) -> bool:
    """Whether a live worker holds the temp dir at `path`."""
    try:
        fd = os.open(alive_file(path), os.O_RDWR)
    except FileNotFoundError:
        try:
            return time.time() - path.stat().st_mtime < _NEW_DIR_S
        except FileNotFoundError:
            return False
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
