"""CLI mirrors of the control API against a running emulator: reset, keys, tasks."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from emulator.cli.options import command, guarded, target, target_flags
from emulator.cli.table import table, utc

if TYPE_CHECKING:  # imported when a command runs: `serve` starts without httpx's import
    from emulator.clients.control import ControlClient

PARTS = "tasks,storages,templates,objects,state"


def add_commands(commands: Any) -> None:
    """Add the subcommands to the CLI's subparsers."""
    reset = command(commands, "reset", "reset a running emulator (POST /_emulator/reset)", _reset)
    target_flags(reset, keys=False)
    reset.add_argument("--parts", help=f"comma-separated, some of {PARTS} (default: all)")

    keys = command(commands, "keys", "list and manage access keys of a running emulator", _keys)
    target_flags(keys, keys=False)
    actions = keys.add_subparsers(dest="action", metavar="{list,create,disable,enable,delete}")
    target_flags(command(actions, "list", "every key (the default)"), keys=False, nested=True)
    create = command(actions, "create", "a new pair (random unless given)")
    target_flags(create, keys=False, nested=True)
    create.add_argument("--access-key-id", help="16 characters (default: random)")
    create.add_argument("--access-key-secret", help="32 characters (default: random)")
    for name in ("disable", "enable", "delete"):
        action = command(actions, name, f"{name} one key")
        target_flags(action, keys=False, nested=True)
        action.add_argument("access_key_id", help="the key's id")
    keys.set_defaults(action="list")

    tasks = command(
        commands,
        "tasks",
        "a table of the newest tasks (list_task over --hours when the control API is off)",
        _tasks,
    )
    target_flags(tasks)
    tasks.add_argument("--limit", type=int, default=20, help="at most this many rows")
    tasks.add_argument("--status", help="only tasks in this status (default: any)")
    tasks.add_argument(
        "--hours",
        type=float,
        default=24.0,
        help="how far back list_task looks when the control API is off",
    )


def _control(args: argparse.Namespace) -> ControlClient:
    from emulator.clients.control import ControlClient

    to = target(args)
    return ControlClient(to.url, token=to.token)


@guarded
def _reset(args: argparse.Namespace) -> int:
    parts = [p.strip() for p in args.parts.split(",")] if args.parts else None
    with _control(args) as control:
        print("reset: " + ", ".join(control.reset(parts)))
    return 0


@guarded
def _keys(args: argparse.Namespace) -> int:
    with _control(args) as control:
        _key_action(control, args)
    return 0


def _key_action(control: ControlClient, args: argparse.Namespace) -> None:
    if args.action == "create":
        pair = control.create_key(args.access_key_id, args.access_key_secret)
        print(f"AccessKeyId      {pair.access_key_id}\nAccessKeySecret  {pair.access_key_secret}")
    elif args.action in ("disable", "enable"):
        key = getattr(control, f"{args.action}_key")(args.access_key_id)
        print(f"{key.access_key_id} {'enabled' if key.enabled else 'disabled'}")
    elif args.action == "delete":
        control.delete_key(args.access_key_id)
        print(f"{args.access_key_id} deleted")
    else:
        rows = [
            [
                k.access_key_id,
                "enabled" if k.enabled else "disabled",
                "configured" if k.configured else "",
                utc(k.created_at),
            ]
            for k in control.list_keys()
        ]
        print(table(["ACCESS KEY ID", "STATE", "", "CREATED (UTC)"], rows))


@guarded
def _tasks(args: argparse.Namespace) -> int:
    with _control(args) as control:
        response = control.send("GET", "/tasks", params={"limit": args.limit, **_status(args)})
    if response.status_code == 404:  # EMULATOR_CONTROL=off: the vendor's list_task still works
        return _listed_tasks(args)
    from emulator.clients.control import control_error
    from emulator.control.models import TaskRow

    if not response.is_success:
        raise control_error(response)
    rows = [
        [
            t.task_id,
            t.status,
            f"{t.progress:.0f}%",
            t.template_name,
            utc(t.create_time),
            utc(t.finish_time) if t.finish_time else "",
            f"{t.err_code} {t.err_msg}" if t.status == "fail" else "",
        ]
        for t in (TaskRow.model_validate(row) for row in response.json())
    ]
    headers = ["TASK ID", "STATUS", "PROGRESS", "TEMPLATE", "CREATED (UTC)", "FINISHED", "ERROR"]
    print(table(headers, rows) if rows else "no tasks")
    return 0


def _listed_tasks(args: argparse.Namespace) -> int:
    from emulator.cli.api import api_client

    now = time.time()
    with api_client(args) as api:
        found = api.list_task(
            now - args.hours * 3600, now + 60, status=args.status, count=min(args.limit, 1000)
        ).list
    rows = [[t.task_id, t.status, t.create_time, t.finish_time, t.message] for t in found]
    headers = ["TASK ID", "STATUS", "CREATED", "FINISHED", "MESSAGE"]
    print(table(headers, rows) if rows else "no tasks")
    return 0


def _status(args: argparse.Namespace) -> dict[str, str]:
    return {"status": args.status} if args.status else {}
