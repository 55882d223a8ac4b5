"""Access keys (control API): list, create, enable/disable, delete; the configured key is fixed."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Sequence

from sqlmodel import Session, col, select

from emulator.db.models import AccessKey
from emulator.errors import BadParam, Duplicated, EmptyResult, OperationFail

# AccessKeyIds look like the vendor's (upper-case letters and digits); secrets mix cases.
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


def list_all(*, session: Session) -> Sequence[AccessKey]:
    return session.exec(select(AccessKey).order_by(col(AccessKey.created_at))).all()


def get(*, session: Session, access_key_id: str) -> AccessKey:
    key = session.get(AccessKey, access_key_id)
    if key is None:
        raise EmptyResult(f"access key {access_key_id!r} does not exist")
    return key


def create(
    *,
    session: Session,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
) -> AccessKey:
    """A new enabled pair: 16-character id, 32-character secret (random unless given)."""
    key_id = access_key_id or _random(_ID_ALPHABET, 16)
    secret = access_key_secret or _random(_SECRET_ALPHABET, 32)
    check_pair(key_id, secret)
    if session.get(AccessKey, key_id) is not None:
        raise Duplicated(f"access key {key_id!r} exists")
    key = AccessKey(
        access_key_id=key_id, access_key_secret=secret, enabled=True, created_at=time.time()
    )
    session.add(key)
    return key


def set_enabled(*, session: Session, access_key_id: str, enabled: bool) -> AccessKey:
    key = get(session=session, access_key_id=access_key_id)
    if key.configured and not enabled:
        raise OperationFail(
            f"access key {access_key_id!r} is the configured key (EMULATOR_ACCESS_KEY_ID) and "
            "cannot be disabled: create another key to test a disabled one"
        )
    key.enabled = enabled
    session.add(key)
    return key


def delete(*, session: Session, access_key_id: str) -> None:
    key = get(session=session, access_key_id=access_key_id)
    if key.configured:
        raise OperationFail(
            f"access key {access_key_id!r} is the configured key (EMULATOR_ACCESS_KEY_ID) and "
            "cannot be deleted"
        )
    session.delete(key)


def check_pair(access_key_id: str, access_key_secret: str) -> None:
    """BadParam unless both have the vendor's lengths (16 and 32) and printable characters."""
    _check("access_key_id", access_key_id, 16)
    _check("access_key_secret", access_key_secret, 32)


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _check(field: str, value: str, length: int) -> None:
    if len(value) != length or not _PRINTABLE.fullmatch(value) or "," in value:
        raise BadParam(f"{field}: must be {length} printable characters without spaces or commas")
