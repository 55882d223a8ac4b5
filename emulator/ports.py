"""Binding the emulator's ports before anything is announced, with one clear line when taken."""

from __future__ import annotations

import errno
import socket


class PortInUse(RuntimeError):
    """A port to listen on is taken; the message names the setting and flag that move it."""


def bind_port(host: str, port: int, *, setting: str, flag: str) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn and werkzeug do: a restart may bind while old connections sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is in use: stop what listens there, or choose another "
                f"port with {setting} or {flag}"
            ) from None
        raise PortInUse(f"cannot listen on {host}:{port} ({exc.strerror}; {setting})") from None
    return sock
