"""Command line: transcode-emulator serve | worker | s3 | migrate | sign | reset | keys | tasks."""

from __future__ import annotations

import argparse
import gc
import json
import os
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

    serve = commands.add_parser("serve", help="run the API (with embedded S3 and worker)")
    _server_flags(serve)
    serve.add_argument("--no-worker", action="store_true", help="API only (worker concurrency 0)")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run workers only, against the same database")
    _server_flags(worker)
    worker.set_defaults(run=_worker)

    s3 = commands.add_parser("s3", help="run just the embedded, persistent S3 server")
    _server_flags(s3)
    s3.set_defaults(run=_s3)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--data-dir")
    migrate.add_argument("--database-url", help="default: SQLite in the data dir")
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

    from emulator.cli_control import add_commands

    add_commands(commands)  # reset | keys | tasks against a running emulator
    return parser


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir")
    parser.add_argument("--s3-port", type=int)
    parser.add_argument("--concurrency", dest="worker_concurrency", type=int)
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://user@host/db")


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Environment first, then flags that were given."""
    keys = ("host", "port", "data_dir", "s3_port", "worker_concurrency", "database_url")
    flags = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    return Settings(**{**flags, **extra})


def _serve(args: argparse.Namespace) -> int:
    # Start-up makes a few hundred thousand objects that all stay (modules, classes, routes,
    # models): the collector would only walk them again and again (~5-10 % of start-up). It
    # comes back once the emulator is ready, with those objects frozen out of its way.
    gc.disable()
    import uvicorn

    from emulator.app import create_app
    from emulator.runtime import (
        DatabaseUnusable,
        FfmpegMissing,
        check_database,
        require_ffmpeg,
    )
    from emulator.server import free_port

    settings = settings_from(args, **({"worker_concurrency": 0} if args.no_worker else {}))
    if settings.port == 0:
        settings = settings.model_copy(update={"port": free_port(settings.host)})
    if settings.worker_concurrency > 0:
        try:
            require_ffmpeg()
        except FfmpegMissing as exc:
            print(f"transcode-emulator: {exc}", file=sys.stderr)
            return 1
    if settings.database_url is None:
        try:
            check_database(settings.data_dir)
        except DatabaseUnusable as exc:  # one clear line, not a start-up traceback
            print(f"transcode-emulator: {exc}", file=sys.stderr)
            return 1
    app = create_app(settings, announce=True, on_ready=_collect_garbage_again)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        ws="none",  # no WebSocket routes; importing a WebSocket stack costs ~17 ms of start-up
    )
    return 0


def _collect_garbage_again() -> None:
    gc.freeze()
    gc.enable()


def _worker(args: argparse.Namespace) -> int:
    from emulator.worker import run_worker_process

    settings = settings_from(args)
    if settings.worker_concurrency < 1:
        print("transcode-emulator worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    return run_worker_process(settings)


def _s3(args: argparse.Namespace) -> int:
    from emulator.s3server import EmbeddedS3

    settings = settings_from(args)
    server = EmbeddedS3(host=settings.host, port=settings.s3_port, data_dir=settings.data_dir)
    server.start()
    print(f"embedded S3 at {server.endpoint_url} (objects kept in {settings.data_dir}/s3)")
    _wait_for_signal()
    server.stop()
    return 0


def _wait_for_signal() -> None:
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def _migrate(args: argparse.Namespace) -> int:
    from emulator.db.engine import Database, display_url, migrate
    from emulator.runtime import prepare_data_dir

    settings = settings_from(args)
    prepare_data_dir(settings.data_dir)
    db = Database(settings.sqlalchemy_url)
    migrate(db, lock_dir=settings.data_dir)
    db.dispose()
    print(f"database at {display_url(db.url)} is up to date")
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
