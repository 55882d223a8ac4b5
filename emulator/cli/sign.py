"""`transcode-emulator sign`: the headers (or a curl command) that sign one request."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any
from urllib.parse import urlencode

from emulator import signing
from emulator.config import Settings


def add_commands(commands: Any) -> None:
    """Add sign to the CLI's subparsers."""
    sign = commands.add_parser("sign", help="print the headers that sign one request")
    sign.add_argument("method", type=str.upper)
    sign.add_argument("path")
    sign.add_argument("--query", action="append", default=[], metavar="K=V")
    sign.add_argument("--json", dest="body", help="JSON body, sent exactly as given")
    sign.add_argument("--scheme", choices=["primary", "legacy"], default="primary")
    sign.add_argument("--access-key-id")
    sign.add_argument("--access-key-secret")
    sign.add_argument("--curl", metavar="BASE_URL", help="print a ready curl command instead")
    sign.set_defaults(run=_sign)


def _sign(args: argparse.Namespace) -> int:
    settings = Settings()
    query = dict(pair.split("=", 1) for pair in args.query)
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
