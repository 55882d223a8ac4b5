"""The server commands: serve (API, S3 and worker), worker, s3, migrate."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from typing import Any

from emulator.cli.options import command
from emulator.config import Settings


def add_commands(commands: Any) -> None:
    """Add serve, worker, s3 and migrate to the CLI's subparsers."""
    serve = command(commands, "serve", "run the API (with embedded S3 and worker)", _serve)
    _server_flags(serve)
    serve.add_argument("--no-worker", action="store_true", help="API only (worker concurrency 0)")

    worker = command(commands, "worker", "run workers only, against the same database", _worker)
    _server_flags(worker)

    s3 = command(commands, "s3", "run just the embedded, persistent S3 server", _s3)
    _server_flags(s3)

    migrate = command(commands, "migrate", "apply database migrations and exit", _migrate)
    migrate.add_argument("--data-dir", help=f"where the database lives {_default('data_dir')}")
    migrate.add_argument("--database-url", help=f"SQLAlchemy URL {_default('database_url')}")


def _server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help=f"address to bind {_default('host')}")
    parser.add_argument("--port", type=int, help=f"API port, 0 for any free one {_default('port')}")
    parser.add_argument(
        "--data-dir", help=f"database, objects and temp files {_default('data_dir')}"
    )
    parser.add_argument("--s3-port", type=int, help=f"embedded S3's port {_default('s3_port')}")
    parser.add_argument(
        "--concurrency",
        dest="worker_concurrency",
        type=int,
        help=f"tasks run at once {_default('worker_concurrency')}",
    )
    parser.add_argument(
        "--database-url",
        help=f"e.g. postgresql+psycopg://user@host/db {_default('database_url')}",
    )


def _default(field: str) -> str:
    """`(default: $EMULATOR_X, else <Settings' default>)`: flags win over the environment."""
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    shown = "SQLite in the data dir" if field == "database_url" else default
    return f"(default: $EMULATOR_{field.upper()}, else {shown})"


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

    from emulator import logs
    from emulator.app import create_app
    from emulator.ports import PortInUse, bind_port
    from emulator.runtime import DatabaseUnusable, FfmpegMissing
    from emulator.server import uvicorn_options
    from emulator.services.seed import SeedError

    settings = settings_from(args, **({"worker_concurrency": 0} if args.no_worker else {}))
    logs.configure(settings)
    app = None
    try:
        # Both ports are bound, the database checked and the seed applied before the banner:
        # whatever stops start-up is one line (below), never a banner then a traceback.
        api_socket = bind_port(settings.host, settings.port, setting="EMULATOR_PORT", flag="--port")
        if settings.port == 0:
            settings = settings.model_copy(update={"port": api_socket.getsockname()[1]})
        app = create_app(settings, announce=True, on_ready=_collect_garbage_again)
        app.state.runtime.start()
    except (PortInUse, DatabaseUnusable, FfmpegMissing, SeedError) as exc:
        if app is not None:
            app.state.runtime.stop()
        print(f"transcode-emulator: {exc}", file=sys.stderr)
        return 1
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_options(settings)))
    # uvicorn re-raises Ctrl-C once it has shut down; uvicorn.run swallows it the same way.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[api_socket])
    return 0


def _collect_garbage_again() -> None:
    gc.freeze()
    gc.enable()


def _worker(args: argparse.Namespace) -> int:
    from emulator import logs
    from emulator.runtime import run_worker_process

    settings = settings_from(args)
    logs.configure(settings)
    if settings.worker_concurrency < 1:
        print("transcode-emulator worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    return run_worker_process(settings)


def _s3(args: argparse.Namespace) -> int:
    from emulator.origins import SitePolicy
    from emulator.storage.embedded import EmbeddedS3

    settings = settings_from(args)
    server = EmbeddedS3(
        host=settings.host,
        port=settings.s3_port,
        data_dir=settings.data_dir,
        policy=SitePolicy.from_settings(settings),  # EMULATOR_ALLOWED_HOSTS, S3 CORS
    )
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
    from emulator.db.engine import Database, display_url
    from emulator.db.migrate import migrate
    from emulator.runtime import prepare_data_dir

    settings = settings_from(args)
    prepare_data_dir(settings.data_dir)
    db = Database(settings.sqlalchemy_url)
    migrate(db, lock_dir=settings.data_dir)
    db.dispose()
    print(f"database at {display_url(db.url)} is up to date")
    return 0
