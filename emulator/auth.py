"""Verifying requests (SPEC.md section 2): keys, Date skew, both signature schemes; replays are
refused through services/nonces.py."""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from emulator import signing
from emulator.db.engine import Database
from emulator.db.models import AccessKey
from emulator.errors import AuthFail
from emulator.services.nonces import NonceCache

KEY_CACHE_TTL_S = 1.0
BASIC = "basic"


class Unauthorized(AuthFail):
    """An auth failure on /vodencoding/v1/: code 1003 with HTTP 401, which the vendor's SDK
    reads as "Unauthorized" (the /api/ generation answers HTTP 200)."""

    http_status = 401


def is_basic(header: str | None) -> bool:
    # RFC 7617: the scheme name is case-insensitive.
    return header is not None and header.lstrip()[:6].lower() == BASIC + " "


class SignatureMismatch(AuthFail):
    """No reading of the request matched; keeps the server's StringToSign (request log)."""

    def __init__(self, string_to_sign: str) -> None:
        escaped = string_to_sign.replace("\n", "\\n")
        super().__init__(f"signature mismatch; the server's StringToSign was: {escaped}")
        self.string_to_sign = string_to_sign


@dataclass(frozen=True)
class RequestFacts:
    """What a signature covers, read off the request once."""

    method: str
    path: str
    raw_query: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass(frozen=True)
class Verdict:
    access_key_id: str
    scheme: str


class KeyRing:
    """Access keys from the database, cached briefly (keys change rarely, requests often)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, AccessKey | None]] = {}

    def lookup(self, access_key_id: str) -> AccessKey | None:
        hit = self._cache.get(access_key_id)
        if hit and time.monotonic() - hit[0] < KEY_CACHE_TTL_S:
            return hit[1]
        with self._db.read() as session:
            key = session.get(AccessKey, access_key_id)
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[access_key_id] = (time.monotonic(), key)
        return key

    def forget(self) -> None:
        self._cache.clear()


class Verifier:
    def __init__(
        self, *, keys: KeyRing, nonces: NonceCache, skew_s: float, allow_legacy: bool
    ) -> None:
        self.keys = keys
        self.nonces = nonces
        self.skew_s = skew_s
        self.allow_legacy = allow_legacy
        self._last_date: tuple[str, float] | None = None

    def verify(self, facts: RequestFacts) -> Verdict:
        header = facts.header("authorization")
        if not header:
            raise AuthFail("missing Authorization header")
        if is_basic(header):
            raise AuthFail(
                "malformed Authorization header: HTTP Basic is accepted on /vodencoding/v1/ "
                "routes only; here use 'Visionular AccessKeyId={AK}, Signature={SIGN}'"
            )
        parsed = signing.parse_authorization(header)
        if parsed is None:
            raise AuthFail(
                "malformed Authorization header: expected "
                "'Visionular AccessKeyId={AK}, Signature={SIGN}'"
            )
        access_key_id, given = parsed
        key = self.keys.lookup(access_key_id)
        if key is None:
            raise AuthFail(f"unknown AccessKeyId {access_key_id!r}")
        if not key.enabled:
            raise AuthFail(f"AccessKeyId {access_key_id!r} is disabled")
        date = facts.header("date")
        if date is not None or not self.allow_legacy:
            self._check_date(date)
        scheme = self._match(facts, key.access_key_secret, given, date)
        nonce = facts.header("x-wz-nonce")
        if nonce and not self.nonces.check_and_add(nonce):
            raise AuthFail(f"X-Wz-Nonce {nonce!r} was used already (replay)")
        return Verdict(access_key_id=access_key_id, scheme=scheme)

    def verify_basic(self, header: str) -> Verdict:
        """`Authorization: Basic base64(AK:SK)`, as the v1 SDK sends it (issue 7)."""
        token = header.strip()[len(BASIC) :].strip()
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        access_key_id, sep, secret = decoded.partition(":")
        if not sep:
            raise AuthFail(
                "malformed Basic credentials: expected base64 of 'AccessKeyId:AccessKeySecret'"
            )
        key = self.keys.lookup(access_key_id)
        if key is None:
            raise AuthFail(f"unknown AccessKeyId {access_key_id!r}")
        if not key.enabled:
            raise AuthFail(f"AccessKeyId {access_key_id!r} is disabled")
        if not _same(key.access_key_secret, secret):
            raise AuthFail(f"wrong AccessKeySecret for AccessKeyId {access_key_id!r}")
        return Verdict(access_key_id=access_key_id, scheme=BASIC)

    def _check_date(self, date: str | None) -> None:
        if not date:
            raise AuthFail("missing Date header (RFC 1123, GMT)")
        sent = self._parse_date(date)
        skew = abs(time.time() - sent)
        if skew > self.skew_s:
            raise AuthFail(
                f"Date header {date!r} is {skew:.0f} s from the server clock "
                f"(allowed: {self.skew_s:g} s)"
            )

    def _parse_date(self, date: str) -> float:
        # Requests sent within the same second share their Date: parse each value once.
        last = self._last_date
        if last is not None and last[0] == date:
            return last[1]
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            raise AuthFail(f"unparseable Date header {date!r}: use RFC 1123 in GMT") from None
        if parsed.tzinfo is None:
            # Read as the server's local time, the same header would mean another moment on
            # another machine (RFC 5322's "-0000" reads as zone-less too: it says "zone unknown").
            raise AuthFail(f"Date header {date!r} has no time zone: use RFC 1123 in GMT")
        sent = parsed.timestamp()
        self._last_date = (date, sent)
        return sent

    def _match(self, facts: RequestFacts, secret: str, given: str, date: str | None) -> str:
        primary = list(primary_candidates(facts, date)) if date else []
        for string_to_sign in primary:
            if _same(signing.signature(secret, string_to_sign), given):
                return "primary"
        if self.allow_legacy:
            for string_to_sign in legacy_candidates(facts):
                digest = signing.hmac_sha1(secret, string_to_sign)
                if _same(signing.signature(secret, string_to_sign), given) or _same(
                    digest.hex(), given
                ):
                    return "legacy"
        shown = primary[0] if primary else next(iter(legacy_candidates(facts)))
        raise SignatureMismatch(shown)


def primary_candidates(facts: RequestFacts, date: str) -> Iterable[str]:
    """Every reading SPEC.md allows: Content-Type literal or as sent; values decoded or raw."""
    content_types = [""]
    if facts.method != "GET" and facts.body:
        sent = facts.header("content-type") or ""
        content_types = [signing.JSON_CONTENT_TYPE] + (
            [sent] if sent and sent != signing.JSON_CONTENT_TYPE else []
        )
    resources = [signing.canonical_resource(facts.path, facts.query)]
    raw = signing.canonical_resource(facts.path, signing.encoded_query_pairs(facts.raw_query))
    if raw != resources[0]:
        resources.append(raw)
    for content_type in content_types:
        for resource in resources:
            yield signing.primary_string_to_sign(
                method=facts.method,
                body=facts.body,
                content_type=content_type,
                date=date,
                headers=facts.headers,
                resource=resource,
            )


def legacy_candidates(facts: RequestFacts) -> Iterable[str]:
    try:
        params = signing.legacy_params(
            dict(facts.query), facts.body if facts.method != "GET" else b""
        )
    except ValueError:
        params = []
    yield signing.legacy_string_to_sign(method=facts.method, path=facts.path, params=params)
    if not params:
        yield signing.legacy_string_to_sign(
            method=facts.method, path=facts.path, params=params, trailing_amp=False
        )


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
