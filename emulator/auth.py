"""Verifying requests (SPEC.md section 2): keys, Date skew, nonce replay, both signature schemes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import sqlalchemy as sa

from emulator import signing
from emulator.db.engine import NONCE_PRUNE_LOCK_KEY, Database
from emulator.db.models import AccessKey
from emulator.errors import AuthFail

KEY_CACHE_TTL_S = 1.0
NONCE_CACHE_MAX = 100_000
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


class NonceCache:
    """Nonces seen within the skew window; bounded in size and time.

    In this process's memory, unless `share_through(db)` moved them to the database's nonces
    table (PostgreSQL: several API nodes, where a replay may reach any of them). In memory a
    nonce is kept as a 64-bit digest: in a set (is it a replay?) and in an array per second of
    arrival (which to forget when), about 80 bytes instead of 200 for the string in an
    ordered dict. A client that sends a fresh nonce with every request fills the cap within
    minutes, and the soak test holds memory to what the first minute used. A digest
    collision (odds about 1 in 10^9 at the cap) would refuse one request as a replay.
    """

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._seen: set[int] = set()
        self._by_second: deque[tuple[int, array[int]]] = deque()
        self._lock = threading.Lock()
        self._shared: SharedNonces | None = None

    def share_through(self, db: Database) -> None:
        self._shared = SharedNonces(db, window_s=self._window_s)

    def check_and_add(self, nonce: str) -> bool:
        """False when the nonce was seen within the window (a replay)."""
        if self._shared is not None:
            return self._shared.check_and_add(nonce)
        digest = int.from_bytes(hashlib.blake2b(nonce.encode(), digest_size=8).digest(), "big")
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            if digest in self._seen:
                return False
            self._seen.add(digest)
            second = int(now)
            if not self._by_second or self._by_second[-1][0] != second:
                self._by_second.append((second, array("Q")))
            self._by_second[-1][1].append(digest)
            return True

    def _expire(self, now: float) -> None:
        """Forget the seconds that left the window; at the cap, the oldest seconds first (never
        the current one: a second holds what one second of requests can send)."""
        while self._by_second and (
            self._by_second[0][0] + 1 <= now - self._window_s
            or (len(self._seen) >= NONCE_CACHE_MAX and len(self._by_second) > 1)
        ):
            _, digests = self._by_second.popleft()
            self._seen.difference_update(digests)

    def clear(self) -> None:
        if self._shared is not None:
            self._shared.clear()
        with self._lock:
            self._seen.clear()
            self._by_second.clear()


NONCES = sa.Table(  # migration 0004
    "nonces",
    sa.MetaData(),
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False),
)
NONCE_PRUNE_S = 30.0


class SharedNonces:
    """The nonces table: one atomic upsert per request decides "fresh" for every node."""

    def __init__(self, db: Database, *, window_s: float) -> None:
        self._db = db
        self._window_s = window_s
        self._pruned_at = 0.0

    def check_and_add(self, nonce: str) -> bool:
        now = time.time()
        cutoff = now - self._window_s
        if len(nonce) > 128:
            nonce = "sha256:" + hashlib.sha256(nonce.encode()).hexdigest()
        # The PostgreSQL dialect takes ~25 ms to import: only where it is used.
        dialect = importlib.import_module(f"sqlalchemy.dialects.{self._db.engine.dialect.name}")
        insert = dialect.insert(NONCES).values(nonce=nonce, seen_at=now)
        # Inserted, or an expired row taken over: fresh. A live row left alone: replay.
        upsert = insert.on_conflict_do_update(
            index_elements=["nonce"],
            set_={"seen_at": insert.excluded.seen_at},
            where=NONCES.c.seen_at < cutoff,
        ).returning(NONCES.c.nonce)
        with self._db.engine.begin() as conn:
            if not self._db.is_sqlite:  # losing the last nonces in a server crash is harmless
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            fresh = conn.execute(upsert).first() is not None
        if now - self._pruned_at > NONCE_PRUNE_S:
            self._pruned_at = now
            self._prune(cutoff)
        return fresh

    def _prune(self, cutoff: float) -> None:
        with self._db.engine.begin() as conn:
            # One node prunes at a time (others skip), so deletes never deadlock.
            if (
                not self._db.is_sqlite
                and not conn.execute(
                    sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": NONCE_PRUNE_LOCK_KEY}
                ).scalar()
            ):
                return
            conn.execute(NONCES.delete().where(NONCES.c.seen_at < cutoff))

    def clear(self) -> None:
        with self._db.engine.begin() as conn:
            conn.execute(NONCES.delete())


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
