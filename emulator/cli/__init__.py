"""Command line: `transcode-emulator COMMAND`; `transcode-emulator --help` lists them.

Server: serve, worker, s3, migrate. Client (a running emulator, like awslocal): call,
create-task, query-task, wait, tasks, templates, storages, sign, reset, keys, callbacks,
redeliver, inbox, snapshot.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from emulator import __version__
from emulator.cli import api, callbacks, control, serve, sign, snapshots, wait
from emulator.cli.options import Parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest:
        _take_rest(parser, args, rest)
    os.umask(0o077)  # the data dir holds keys and storage credentials: owner-only files
    try:
        return int(args.run(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"transcode-emulator: bad setting {first['loc'][0]}: {first['msg']}", file=sys.stderr)
        return 2


def _parser() -> Parser:
    parser = Parser(
        prog="transcode-emulator",
        description="Local emulator of the Visionular transcoding API.",
        epilog="Client commands read EMULATOR_PORT (or EMULATOR_PUBLIC_URL) and the"
        " EMULATOR_ACCESS_KEY_* variables, as the server does. `COMMAND --help` for more.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_commands(commands)  # serve | worker | s3 | migrate
    api.add_commands(commands)  # call | query-task | create-task | templates | storages
    wait.add_commands(commands)
    control.add_commands(commands)  # reset | keys | tasks
    callbacks.add_commands(commands)  # callbacks | redeliver | inbox
    snapshots.add_commands(commands)  # snapshot save | list | restore | delete
    sign.add_commands(commands)
    return parser


def _take_rest(parser: Parser, args: argparse.Namespace, rest: list[str]) -> None:
    """KEY=VALUE given after an option (`call POST /p --json '{}' k=v`) still counts.

    argparse fills a `nargs="*"` positional once, before the options that follow it, and
    parse_intermixed_args cannot be used with subcommands; so `call` takes what is left.
    """
    more = getattr(args, "more_params", None)
    if more is None or any(arg.startswith("-") for arg in rest):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        args.params = [*args.params, *(more(arg) for arg in rest)]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"argument KEY=VALUE: {exc}")
