"""Run the emulator inside this process on a background thread (tests, the pytest plugin)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from emulator.app import create_app
from emulator.config import Settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keywords of both `serve` and EmulatorServer, so the two cannot drift."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning" if settings.log_level == "info" else settings.log_level,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
        "ws": "none",  # no WebSocket routes; importing a WebSocket stack costs start-up time
        **_http_protocol(settings.max_header_bytes),
    }


def _http_protocol(max_header_bytes: int) -> dict[str, Any]:
    try:
        from emulator.headerlimit import HeaderLimitProtocol
    except ImportError:  # no httptools (PyPy, plain uvicorn): h11's own limit, answered with 400
        return {"http": "h11", "h11_max_incomplete_event_size": max_header_bytes}
    return {"http": HeaderLimitProtocol.limited_to(max_header_bytes)}


class EmulatorServer:
    """uvicorn on a daemon thread; start() returns once /_emulator/health answers 200."""

    def __init__(self, settings: Settings) -> None:
        if settings.port == 0:
            settings = settings.model_copy(update={"port": free_port(settings.host)})
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, **uvicorn_options(settings))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)

    @property
    def base_url(self) -> str:
        return self.settings.api_base_url

    def start(self, timeout_s: float = 30) -> EmulatorServer:
        import httpx  # not at import: `serve` imports this module for free_port

        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator stopped while starting; see its log")
            try:
                if httpx.get(f"{self.base_url}/_emulator/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"the emulator did not become healthy within {timeout_s} s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
