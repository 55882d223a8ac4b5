"""CLI mirror of named snapshots: snapshot save|list|restore|delete NAME."""

from __future__ import annotations

import argparse
from typing import Any

from emulator.cli.control import _control
from emulator.cli.options import command, guarded, target_flags
from emulator.cli.table import table, utc


def add_commands(commands: Any) -> None:
    """Add the subcommand to the CLI's subparsers."""
    snapshot = command(
        commands, "snapshot", "save, list, restore and delete named snapshots of the state"
    )
    target_flags(snapshot, keys=False)
    actions = snapshot.add_subparsers(dest="action", metavar="{save,list,restore,delete}")
    listed = command(actions, "list", "every snapshot with its counts (the default)", _list)
    target_flags(listed, keys=False, nested=True)
    for name, summary, run in (
        ("save", "save the whole state as NAME", _save),
        ("restore", "replace the whole state with snapshot NAME", _restore),
        ("delete", "delete snapshot NAME", _delete),
    ):
        action = command(actions, name, summary, run)
        target_flags(action, keys=False, nested=True)
        action.add_argument("name", help="the snapshot's name (letters, digits, -_., up to 64)")
    snapshot.set_defaults(run=_list)


@guarded
def _save(args: argparse.Namespace) -> int:
    with _control(args) as control:
        info = control.save_snapshot(args.name)
    print(f"saved {info.name}: {_summary(info)}")
    return 0


@guarded
def _restore(args: argparse.Namespace) -> int:
    with _control(args) as control:
        info = control.restore_snapshot(args.name)
    print(f"restored {info.name}: {_summary(info)}")
    return 0


@guarded
def _delete(args: argparse.Namespace) -> int:
    with _control(args) as control:
        control.delete_snapshot(args.name)
    print(f"deleted {args.name}")
    return 0


@guarded
def _list(args: argparse.Namespace) -> int:
    with _control(args) as control:
        found = control.list_snapshots()
    rows = [
        [s.name, utc(s.created), str(s.tasks), str(s.storages), str(s.templates),
         str(s.objects), str(s.bytes), s.revision]
        for s in found
    ]  # fmt: skip
    headers = ["NAME", "CREATED (UTC)", "TASKS", "STORAGES", "TEMPLATES", "OBJECTS", "BYTES"]
    print(table([*headers, "REVISION"], rows) if rows else "no snapshots")
    return 0


def _summary(info: Any) -> str:
    return (
        f"{info.tasks} tasks, {info.storages} storages, {info.templates} templates, "
        f"{info.objects} objects, {info.bytes} bytes"
    )
