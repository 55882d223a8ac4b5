"""CLI mirrors of task callbacks and the inbox: callbacks TASK_ID, redeliver, inbox NAME."""

from __future__ import annotations

import argparse
import json
from typing import Any

from emulator.cli.control import _control
from emulator.cli.options import command, guarded, target_flags
from emulator.cli.table import table, utc


def add_commands(commands: Any) -> None:
    """Add the subcommands to the CLI's subparsers."""
    listed = command(
        commands, "callbacks", "a task's callback deliveries and their attempts", _callbacks
    )
    target_flags(listed, keys=False)
    listed.add_argument("task_id", help="the task's id")

    again = command(commands, "redeliver", "send a task's callback delivery again, now", _redeliver)
    target_flags(again, keys=False)
    again.add_argument("task_id", help="the task's id")
    again.add_argument("delivery_id", type=int, help="the delivery's id (from `callbacks`)")

    inbox = command(commands, "inbox", "requests received by /_emulator/inbox/NAME", _inbox)
    target_flags(inbox, keys=False)
    inbox.add_argument("name", help="the inbox's name")
    inbox.add_argument("--limit", type=int, help="at most this many, newest first")
    inbox.add_argument("--json", action="store_true", help="print the entries as JSON")
    inbox.add_argument("--clear", action="store_true", help="forget the inbox's requests")


@guarded
def _callbacks(args: argparse.Namespace) -> int:
    with _control(args) as control:
        deliveries = control.callbacks(args.task_id)
    if not deliveries:
        print(f"no callback deliveries for task {args.task_id}")
        return 0
    rows = [
        [str(d["id"]), d["status"], str(len(d["history"])), _last(d), d["url"]] for d in deliveries
    ]
    print(table(["DELIVERY ID", "STATUS", "ATTEMPTS", "LAST ATTEMPT", "URL"], rows))
    return 0


@guarded
def _redeliver(args: argparse.Namespace) -> int:
    with _control(args) as control:
        delivery = control.redeliver(args.task_id, args.delivery_id)
    print(f"delivery {delivery['id']}: {_last(delivery)} (now {delivery['status']})")
    return 0 if not delivery["history"][-1]["error"] else 1


@guarded
def _inbox(args: argparse.Namespace) -> int:
    with _control(args) as control:
        if args.clear:
            print(f"inbox {args.name}: {control.clear_inbox(args.name)} cleared")
            return 0
        entries = control.inbox(args.name, limit=args.limit)
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return 0
    rows = [
        [str(e["id"]), utc(e["received_at"]), e["method"], str(e["size"]), _summary(e)]
        for e in entries
    ]
    print(table(["ID", "RECEIVED (UTC)", "METHOD", "BYTES", "BODY"], rows) if rows else "empty")
    return 0


def _last(delivery: dict[str, Any]) -> str:
    if not delivery["history"]:
        return "none yet"
    attempt = delivery["history"][-1]
    outcome = attempt["error"] or f"HTTP {attempt['status_code']}"
    return f"{utc(attempt['time'])} {outcome}"


def _summary(entry: dict[str, Any]) -> str:
    text = entry["body"] if entry["body_encoding"] == "text" else f"base64:{entry['body']}"
    return text if len(text) <= 60 else text[:57] + "..."
