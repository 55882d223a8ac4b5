"""CLI mirrors of the control API against a running emulator: reset, keys, tasks."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from emulator.errors import ApiError

if TYPE_CHECKING:  # imported when a command runs: `serve` starts without httpx's import
    from emulator.control_client import ControlClient

DEFAULT_URL = "http://127.0.0.1:8080"


def add_commands(commands: Any) -> None:
    """Add the subcommands to the CLI's subparsers."""
    reset = commands.add_parser("reset", help="reset a running emulator (POST /_emulator/reset)")
    _target_flags(reset)
    reset.add_argument(
        "--parts", help="comma-separated: tasks,storages,templates,objects,state (default: all)"
    )
    reset.set_defaults(run=_reset)

    keys = commands.add_parser("keys", help="list and manage access keys of a running emulator")
    _target_flags(keys)
    actions = keys.add_subparsers(dest="action")
    _target_flags(actions.add_parser("list", help="every key (the default)"), nested=True)
    create = actions.add_parser("create", help="a new pair (random unless given)")
    _target_flags(create, nested=True)
    create.add_argument("--access-key-id", help="16 characters")
    create.add_argument("--access-key-secret", help="32 characters")
    for name in ("disable", "enable", "delete"):
        action = actions.add_parser(name, help=f"{name} one key")
        _target_flags(action, nested=True)
        action.add_argument("access_key_id")
    keys.set_defaults(run=_keys, action="list")

    tasks = commands.add_parser("tasks", help="a table of the recent tasks of a running emulator")
    _target_flags(tasks)
    tasks.add_argument("--limit", type=int, default=20)
    tasks.add_argument("--status", help="only tasks in this status")
    tasks.set_defaults(run=_tasks)


def _target_flags(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    # Nested parsers must not reset what the parent parsed (argparse applies their defaults).
    default = argparse.SUPPRESS if nested else None
    parser.add_argument(
        "--url",
        default=default,
        help=f"the emulator (default: EMULATOR_PORT / EMULATOR_PUBLIC_URL, {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token", default=default, help="control token (default: EMULATOR_CONTROL_TOKEN)"
    )


def _control(args: argparse.Namespace) -> ControlClient:
    from emulator.config import Settings
    from emulator.control_client import ControlClient

    settings = Settings() if not (args.url and args.token) else None
    url = args.url or (settings.api_base_url if settings else DEFAULT_URL)
    token = args.token or (settings.control_token if settings else None)
    return ControlClient(url, token=token)


def _guarded(run: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        import httpx

        try:
            return int(run(args))
        except ApiError as exc:
            print(f"transcode-emulator: {exc.code} {exc.msg}: {exc.detail}", file=sys.stderr)
        except httpx.TransportError as exc:
            print(f"transcode-emulator: cannot reach the emulator: {exc}", file=sys.stderr)
        return 1

    return wrapped


@_guarded
def _reset(args: argparse.Namespace) -> int:
    parts = [p.strip() for p in args.parts.split(",")] if args.parts else None
    with _control(args) as control:
        print("reset: " + ", ".join(control.reset(parts)))
    return 0


@_guarded
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
                _utc(k.created_at),
            ]
            for k in control.list_keys()
        ]
        print(table(["ACCESS KEY ID", "STATE", "", "CREATED (UTC)"], rows))


@_guarded
def _tasks(args: argparse.Namespace) -> int:
    with _control(args) as control:
        found = control.recent_tasks(limit=args.limit, status=args.status)
    rows = [
        [
            t.task_id,
            t.status,
            f"{t.progress:.0f}%",
            t.template_name,
            _utc(t.create_time),
            _utc(t.finish_time) if t.finish_time else "",
            f"{t.err_code} {t.err_msg}" if t.status == "fail" else "",
        ]
        for t in found
    ]
    headers = ["TASK ID", "STATUS", "PROGRESS", "TEMPLATE", "CREATED (UTC)", "FINISHED", "ERROR"]
    print(table(headers, rows) if rows else "no tasks")
    return 0


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _utc(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(moment))
