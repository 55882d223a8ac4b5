"""Run the emulator inside this process on a background thread (tests, the pytest plugin)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from emulator.app import create_app
from emulator.config import Settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorServer:
    """uvicorn on a daemon thread; start() returns once /_emulator/health answers 200."""

    def __init__(self, settings: Settings) -> None:
        if settings.port == 0:
            settings = settings.model_copy(update={"port": free_port(settings.host)})
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",  # as `serve`: no WebSocket routes
        )
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
