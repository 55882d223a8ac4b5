"""`transcode-emulator sign`: the headers (or a curl command) that sign one request."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any
from urllib.parse import urlencode

from emulator import signing
from emulator.cli.options import api_path, command, query_pair
from emulator.config import Settings


def add_commands(commands: Any) -> None:
    """Add sign to the CLI's subparsers."""
    sign = command(commands, "sign", "print the headers that sign one request", _sign)
    sign.add_argument("method", type=str.upper, help="GET, POST, PUT or DELETE")
    sign.add_argument("path", type=api_path, help="e.g. /api/list_storage")
    sign.add_argument(
        "--query",
        action="append",
        default=[],
        type=query_pair,
        metavar="K=V",
        help="a query parameter (repeatable)",
    )
    sign.add_argument("--json", dest="body", help="JSON body, sent exactly as given")
    sign.add_argument(
        "--scheme", choices=["primary", "legacy"], default="primary", help="signature scheme"
    )
    sign.add_argument(
        "--access-key-id",
        help="key id (default: $EMULATOR_ACCESS_KEY_ID, else the development key)",
    )
    sign.add_argument(
        "--access-key-secret",
        help="its secret (default: $EMULATOR_ACCESS_KEY_SECRET, else the development secret)",
    )
    sign.add_argument(
        "--curl",
        metavar="BASE_URL",
        help="print a curl command instead, shell-quoted: paste it, or run"
        ' eval "$(transcode-emulator sign ... --curl URL)" (the quotes matter: an unquoted'
        " $(...) splits the headers at their spaces)",
    )


def _sign(args: argparse.Namespace) -> int:
    settings = Settings()
    query = dict(args.query)
    body = (args.body or "").encode()
    if body:
        try:
            json.loads(body)
        except json.JSONDecodeError as exc:
            print(f"transcode-emulator sign: --json is not valid JSON: {exc}", file=sys.stderr)
            return 2
    headers = signing.sign_request(
        method=args.method,
        path=args.path,
        query=query,
        body=body,
        scheme=args.scheme,
        access_key_id=args.access_key_id or settings.access_key_id,
        access_key_secret=args.access_key_secret or settings.access_key_secret,
    )
    if args.curl:
        url = args.curl.rstrip("/") + args.path + (f"?{urlencode(query)}" if query else "")
        parts = ["curl", "-sS", "-X", args.method, url]
        for name, value in headers.items():
            parts += ["-H", f"{name}: {value}"]
        if body:
            parts += ["--data-binary", body.decode()]
        print(shlex.join(parts))
    else:
        for name, value in headers.items():
            print(f"{name}: {value}")
    return 0
