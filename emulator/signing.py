"""Request signing for both schemes of SPEC.md section 2, shared by server, client and CLI.

Primary (OSS-style):
    StringToSign = VERB \\n ContentMD5 \\n ContentType \\n Date \\n CanonicalizedHeaders \\n
                   CanonicalizedResource
    Signature    = Base64(HMAC-SHA1(SK, StringToSign))
Legacy:
    StringToSign = METHOD & PATH & k1=v1&k2=v2...   (every parameter, sorted by name)

The header is `Authorization: Visionular AccessKeyId={AK}, Signature={SIGN}` for both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import quote, unquote_plus

Scheme = Literal["primary", "legacy"]
JSON_CONTENT_TYPE = "application/json"

_AUTH_RE = re.compile(r"^Visionular AccessKeyId=(?P<ak>[^,\s]+)\s*,\s*Signature=(?P<sig>\S+)\s*$")


def content_md5(body: bytes) -> str:
    """Upper-case hex MD5 of the body; empty for an empty body."""
    return hashlib.md5(body).hexdigest().upper() if body else ""


def canonical_headers(headers: Iterable[tuple[str, str]]) -> str:
    """`x-wz-*` headers as lower-cased `name:value` lines sorted by name."""
    picked = sorted(
        (name.lower(), value.strip()) for name, value in headers if name.lower().startswith("x-wz-")
    )
    return "\n".join(f"{name}:{value}" for name, value in picked)


def canonical_resource(path: str, query: Iterable[tuple[str, str]]) -> str:
    """The path plus `?k=v&...` sorted by name; values as given (callers decide encoding)."""
    pairs = sorted(query)
    if not pairs:
        return path
    return path + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def primary_string_to_sign(
    *,
    method: str,
    body: bytes,
    content_type: str,
    date: str,
    headers: Iterable[tuple[str, str]],
    resource: str,
) -> str:
    return "\n".join(
        [
            method.upper(),
            content_md5(body),
            content_type,
            date,
            canonical_headers(headers),
            resource,
        ]
    )


def legacy_value(value: Any) -> str:
    """A parameter value as the legacy scheme writes it (SPEC.md section 2)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def legacy_string_to_sign(
    *, method: str, path: str, params: Iterable[tuple[str, str]], trailing_amp: bool = True
) -> str:
    pairs = sorted((k, v) for k, v in params if k != "signature")
    tail = "&".join(f"{k}={v}" for k, v in pairs)
    if not tail and not trailing_amp:
        return f"{method.upper()}&{path}"
    return f"{method.upper()}&{path}&{tail}"


def hmac_sha1(secret: str, string_to_sign: str) -> bytes:
    return hmac.new(secret.encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()


def signature(secret: str, string_to_sign: str) -> str:
    return base64.b64encode(hmac_sha1(secret, string_to_sign)).decode()


def authorization(access_key_id: str, sig: str) -> str:
    return f"Visionular AccessKeyId={access_key_id}, Signature={sig}"


def parse_authorization(value: str) -> tuple[str, str] | None:
    """(AccessKeyId, Signature) from an Authorization header, or None when malformed."""
    match = _AUTH_RE.match(value.strip())
    return (match["ak"], match["sig"]) if match else None


def http_date(moment: datetime | None = None) -> str:
    return format_datetime(moment or datetime.now(UTC), usegmt=True)


def legacy_params(query: Mapping[str, Any] | None, body: bytes) -> list[tuple[str, str]]:
    """The legacy scheme's parameters: the query, or the top-level fields of a JSON body."""
    if body:
        # Top-level numbers are signed as written ("6.0" stays "6.0"); nested ones as JSON.
        as_written = json.loads(body, parse_int=str, parse_float=str)
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            return []
        return [
            (k, legacy_value(parsed[k] if isinstance(v, dict | list) else v))
            for k, v in as_written.items()
        ]
    return [(k, legacy_value(v)) for k, v in (query or {}).items()]


def sign_request(
    *,
    method: str,
    path: str,
    access_key_id: str,
    access_key_secret: str,
    query: Mapping[str, Any] | None = None,
    body: bytes = b"",
    scheme: Scheme = "primary",
    date: str | None = None,
    nonce: str | Literal[False] | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request: Date, Authorization, X-Wz-Nonce, Content-Type.

    `nonce=None` makes a fresh one; `nonce=False` sends none.
    """
    headers = {"Date": date or http_date()}
    if nonce is not False:
        headers["X-Wz-Nonce"] = nonce or str(uuid.uuid1())
    if body:
        headers["Content-Type"] = JSON_CONTENT_TYPE
    if scheme == "legacy":
        sts = legacy_string_to_sign(method=method, path=path, params=legacy_params(query, body))
    else:
        query_pairs = [(k, str(v)) for k, v in (query or {}).items()]
        sts = primary_string_to_sign(
            method=method,
            body=body,
            content_type=headers.get("Content-Type", "") if method.upper() != "GET" else "",
            date=headers["Date"],
            headers=headers.items(),
            resource=canonical_resource(path, query_pairs),
        )
    headers["Authorization"] = authorization(access_key_id, signature(access_key_secret, sts))
    return headers


def encoded_query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Query pairs with values as sent on the wire (the URL-encoded reading)."""
    pairs = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote_plus(key), value))
    return pairs


def quote_value(value: str) -> str:
    return quote(value, safe="")
