"""The server commands: serve (API, S3 and worker), worker, s3, migrate."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from emulator.config import Settings


def add_commands(commands: Any) -> None:
    """Add serve, worker, s3 and migrate to the CLI's subparsers."""
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
