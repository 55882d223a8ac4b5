"""Python client of the vendor API: signs with emulator.signing, raises ApiError subclasses.

Nothing in the API calls is emulator-specific, so it works against the real service too.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from emulator import signing
from emulator.errors import ERRORS_BY_CODE, ApiError, InternalError


class TranscodeClient:
    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        timeout: float = 30.0,
        scheme: signing.Scheme = "primary",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.scheme = scheme
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TranscodeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One raw request: query string for GET, JSON body otherwise (as the reference says)."""
        method = method.upper()
        params = {k: v for k, v in (params or {}).items() if v is not None}
        query = {k: _query_value(v) for k, v in params.items()} if method == "GET" else {}
        body = b"" if method == "GET" or not params else _json(params)
        sent = (
            signing.sign_request(
                method=method,
                path=path,
                query=query,
                body=body,
                scheme=self.scheme,
                access_key_id=self.access_key_id,
                access_key_secret=self.access_key_secret,
            )
            if sign
            else ({"Content-Type": signing.JSON_CONTENT_TYPE} if body else {})
        )
        return self.http.request(
            method, path, params=query, content=body, headers={**sent, **(headers or {})}
        )

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """`data` of a successful call; an ApiError subclass for any non-zero code."""
        return unwrap(self.request(method, path, params))


def unwrap(response: httpx.Response) -> Any:
    try:
        envelope = response.json()
    except ValueError:
        raise InternalError(
            f"HTTP {response.status_code} without a JSON envelope: {response.text[:200]}"
        ) from None
    code = envelope.get("code", 1000)
    if code == 0:
        return envelope.get("data")
    cls = ERRORS_BY_CODE.get(code, ApiError)
    raise cls(
        envelope.get("detail") or envelope.get("msg", ""),
        request_id=envelope.get("request_id") or response.headers.get("X-Wz-Request-Id"),
    )


def _json(params: dict[str, Any]) -> bytes:
    return json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()


def _query_value(value: Any) -> str:
    return signing.legacy_value(value)
