"""The WSGI middleware in front of the embedded S3: durable writes, anonymous and retried reads.

No moto here: emulator/storage/embedded.py passes moto's app, its disk mirror, and the
function that says which bucket and key a request addresses (parsed as moto parses it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from xml.sax.saxutils import escape

log = logging.getLogger("emulator.storage.embedded")

_MUTATING = frozenset({"PUT", "POST", "DELETE"})
# Each attempt reads the newest version, so failing again needs another overwrite during
# that read: rare once, but a loaded machine met three in a row (a 2 MiB object rewritten
# back to back, tests/storage/test_embedded_cost.py).
_READ_ATTEMPTS = 5

# (bucket, key) a request addresses, key "" for the bucket itself; None: neither.
Target = Callable[[WSGIEnvironment], "tuple[str, str] | None"]


class Mirror(Protocol):
    def sync(self, bucket_name: str, key_name: str, *, reconcile: bool) -> None: ...


class DurableS3App:
    """WSGI middleware: after moto applies a mutating request, persist its effect, then reply.

    The response (status included) is held back until the disk mirror is synced, so a client
    never sees a 2xx for a write that a `kill -9` could still lose.
    """

    def __init__(self, app: WSGIApplication, mirror: Mirror, *, target: Target) -> None:
        self._app = app
        self._mirror = mirror
        self._target = target

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in _MUTATING:
            _read_anonymously(environ)
            if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
                return self._read(environ, start_response)
            return self._app(environ, start_response)
        target = self._target(environ)
        status, headers, body = self._held(environ)
        if target is not None and status.startswith("2"):
            try:
                self._mirror.sync(*target, reconcile=environ["REQUEST_METHOD"] == "POST")
            except OSError as exc:
                log.exception("embedded S3: could not persist %s %s", *target)
                _close(body)
                return _internal_error(start_response, f"could not persist the change: {exc}")
        start_response(status, headers)
        return body

    def _read(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """A GET or HEAD, asked again if moto fails it with a 500.

        moto disposes an overwritten or deleted key at once, so a read that looked the key up
        just before finds its body closed and fails; asked again it gets the new version
        (or NoSuchKey). A read changes nothing, so repeating it is safe.
        """
        for _ in range(_READ_ATTEMPTS - 1):
            status, headers, body = self._held(environ)
            if not status.startswith("500"):
                break
            _close(body)
        else:
            status, headers, body = self._held(environ)
        start_response(status, headers)
        return body

    def _held(self, environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        """moto's response to the request, its status and headers not yet sent."""
        captured: list[tuple[str, list[tuple[str, str]]]] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.append((status, headers))
            return _no_write

        body = self._app(environ, hold)
        if not captured:
            raise RuntimeError("moto's app returned without calling start_response")
        status, headers = captured[-1]
        return status, headers, body


def _read_anonymously(environ: WSGIEnvironment) -> None:
    """Serve unsigned reads like a public-read bucket: HLS and DASH players fetch segments
    relative to a presigned playlist, without its signature (README, "Object store")."""
    query = environ.get("QUERY_STRING", "")
    if environ.get("HTTP_AUTHORIZATION") or "Signature=" in query:
        return
    # moto checks no signature; any credential makes the request an authenticated one.
    environ["HTTP_AUTHORIZATION"] = (
        "AWS4-HMAC-SHA256 Credential=anonymous/19700101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )


def _no_write(data: bytes) -> None:
    # Responses are held until the mirror is synced; moto's Flask app never calls write().
    raise RuntimeError("write() is not supported behind the durable S3 middleware")


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def _internal_error(start_response: StartResponse, message: str) -> list[bytes]:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    ).encode()
    start_response(
        "500 Internal Server Error",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))],
    )
    return [xml]
