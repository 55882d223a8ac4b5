"""Command line: transcode-emulator serve | worker | migrate | sign."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from emulator import __version__, signing
from emulator.config import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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

    serve = commands.add_parser("serve", help="run the API (with embedded S3 and worker)")
    _server_flags(serve)
    serve.add_argument("--no-worker", action="store_true", help="API only (worker concurrency 0)")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--data-dir")
    migrate.set_defaults(run=_migrate)

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
    return parser


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir")
    parser.add_argument("--s3-port", type=int)
    parser.add_argument("--concurrency", dest="worker_concurrency", type=int)


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Environment first, then flags that were given."""
    keys = ("host", "port", "data_dir", "s3_port", "worker_concurrency")
    flags = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    return Settings(**{**flags, **extra})


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from emulator.app import create_app

    settings = settings_from(args, **({"worker_concurrency": 0} if args.no_worker else {}))
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from emulator.db.engine import Database, migrate
    from emulator.runtime import prepare_data_dir

    settings = settings_from(args)
    prepare_data_dir(settings.data_dir)
    migrate(Database(settings.sqlalchemy_url), lock_dir=settings.data_dir)
    print(f"database at {settings.sqlalchemy_url} is up to date")
    return 0


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


if __name__ == "__main__":
    raise SystemExit(main())
