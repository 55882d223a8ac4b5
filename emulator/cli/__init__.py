"""Command line: transcode-emulator serve | worker | s3 | migrate | sign | reset | keys | tasks."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from emulator import __version__
from emulator.cli import control, serve, sign

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    os.umask(0o077)  # the data dir holds keys and storage credentials: owner-only files
    try:
        return int(args.run(args))
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"transcode-emulator: bad setting {first['loc'][0]}: {first['msg']}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transcode-emulator", description="Local emulator of the Visionular transcoding API."
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_commands(commands)  # serve | worker | s3 | migrate
    sign.add_commands(commands)
    control.add_commands(commands)  # reset | keys | tasks against a running emulator
    return parser
