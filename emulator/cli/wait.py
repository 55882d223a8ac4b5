"""`transcode-emulator wait ID`: a line per status change; exit 0 success, 1 fail, 3 timeout."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from emulator.cli.api import api_client
from emulator.cli.options import command, guarded, positive, target_flags

if TYPE_CHECKING:
    from emulator.clients.api import TranscodeClient
    from emulator.clients.models import Task

TIMED_OUT = 3  # apart from 1 (the task failed, or the request did), so scripts can tell


def add_commands(commands: Any) -> None:
    """Add wait to the CLI's subparsers."""
    wait = command(
        commands,
        "wait",
        "print each status change of a task until it ends (exit 0 success, 1 fail, 3 timeout)",
        _wait,
    )
    wait.add_argument("task_id", help="as create_task returned it")
    wait.add_argument("--timeout", type=positive, default=300.0, help="seconds to wait at most")
    wait.add_argument(
        "--poll",
        type=positive,
        default=0.5,
        help="seconds between query_task calls when the control API's long-poll is off",
    )
    target_flags(wait)


@guarded
def _wait(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    with api_client(args) as api:
        task = api.query_task(args.task_id)
        _show(task)
        long_poll = True
        while not task.is_final:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(
                    f"transcode-emulator: task {task.task_id} still {task.status}"
                    f" after {args.timeout:g} s",
                    file=sys.stderr,
                )
                return TIMED_OUT
            seen = task.status
            task, long_poll = _next(api, task, remaining, long_poll=long_poll, poll=args.poll)
            if task.status != seen:
                _show(task)
    return 0 if task.succeeded else 1


def _next(
    api: TranscodeClient, task: Task, remaining: float, *, long_poll: bool, poll: float
) -> tuple[Task, bool]:
    """The task once its status changes (long-poll), or as it is a poll interval later."""
    from emulator.clients.control import NoLongPoll
    from emulator.clients.models import STATUSES

    if long_poll:
        others = [status for status in STATUSES if status != task.status]
        try:
            # The route's timeout is capped (600 s); a shorter slice keeps the connection fresh.
            changed = api.control.wait_task(task.task_id, timeout=min(remaining, 60), status=others)
        except NoLongPoll:
            pass  # EMULATOR_CONTROL=off, a token we lack, or the real service: poll instead
        else:
            return changed, True
    time.sleep(min(poll, remaining))
    return api.query_task(task.task_id), False


def _show(task: Task) -> None:
    if task.status == "fail":
        print(f"fail {task.err_code} {task.err_msg}", flush=True)
    elif task.status == "success":
        print(f"success {task.output_url}", flush=True)
    else:
        print(task.status, flush=True)
