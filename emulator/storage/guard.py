"""WSGI middleware in front of the embedded S3: the Host allow-list and CORS by origins.py.

moto's Flask app echoes any Origin and allows every method (flask-cors defaults), and moto
checks no signature, so without this any web page could list, overwrite and delete objects.
Here a preflight is answered before moto sees it, a browser's write from an origin that may
not write is refused, and moto's CORS headers are replaced by the policy's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from xml.sax.saxutils import escape

from emulator.origins import SitePolicy

PREFLIGHT_MAX_AGE_S = 600
_VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class S3SiteGuard:
    def __init__(self, app: WSGIApplication, policy: SitePolicy) -> None:
        self._app = app
        self._policy = policy

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        policy = self._policy
        method = environ.get("REQUEST_METHOD", "GET").upper()
        host = environ.get("HTTP_HOST")
        if not policy.allows_host(host, s3=True):
            return _access_denied(start_response, policy.host_refusal(host), method)
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:  # not a browser: SDKs, curl, ffmpeg
            return self._app(environ, start_response)
        requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if method == "OPTIONS" and requested is not None:
            return self._preflight(environ, start_response, origin, requested)
        if not policy.allows_s3_request(origin, method):
            return _access_denied(start_response, policy.s3_write_refusal(origin, method), method)
        grant = [("Access-Control-Allow-Origin", origin)] if policy.allows_s3_cors(origin) else []

        def with_policy_cors(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            kept = [(k, v) for k, v in headers if not _is_cors_header(k)]
            return start_response(status, [*kept, *grant, ("Vary", "Origin")], exc_info)

        return self._app(environ, with_policy_cors)

    def _preflight(
        self, environ: WSGIEnvironment, start_response: StartResponse, origin: str, requested: str
    ) -> Iterable[bytes]:
        policy = self._policy
        method = requested.strip().upper()
        if not policy.allows_s3_cors(origin) or method not in policy.s3_cors_methods:
            return _access_denied(
                start_response, policy.s3_write_refusal(origin, method), "OPTIONS"
            )
        headers = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", ", ".join(policy.s3_cors_methods)),
            ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_S)),
            ("Vary", _VARY_PREFLIGHT),
            ("Content-Length", "0"),
        ]
        # Players ask for Range (and hls.js for more); the origin is trusted, so echo them.
        asked = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
        if asked:
            headers.append(("Access-Control-Allow-Headers", asked))
        start_response("200 OK", headers)
        return [b""]


def _is_cors_header(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("access-control-") or lower == "vary"


def _access_denied(start_response: StartResponse, message: str, method: str) -> list[bytes]:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    ).encode()
    start_response(
        "403 Forbidden",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(xml)))],
    )
    return [] if method == "HEAD" else [xml]
