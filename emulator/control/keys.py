"""Control API: access keys (list, create, enable, disable, delete); changes apply at once."""

from __future__ import annotations

from fastapi import Response

from emulator.api.deps import ContextDep
from emulator.control.common import control_router
from emulator.control.models import KeyIn, KeyInfo, KeyPair
from emulator.db.models import AccessKey
from emulator.services import keys

router = control_router(prefix="/keys")


def _info(key: AccessKey) -> KeyInfo:
    return KeyInfo(
        access_key_id=key.access_key_id,
        enabled=key.enabled,
        configured=key.configured,
        created_at=key.created_at,
    )


@router.get("")
def list_keys(ctx: ContextDep) -> list[KeyInfo]:
    """Every key; secrets are only shown once, by the create call."""
    with ctx.db.read() as session:
        return [_info(key) for key in keys.list_all(session=session)]


@router.post("", status_code=201)
def create_key(ctx: ContextDep, body: KeyIn | None = None) -> KeyPair:
    """A new enabled pair (random 16/32-character id and secret unless given)."""
    given = body or KeyIn()
    with ctx.db.write() as session:
        key = keys.create(session=session, **given.model_dump())
        pair = KeyPair(**_info(key).model_dump(), access_key_secret=key.access_key_secret)
    ctx.keys.forget()
    return pair


@router.post("/{access_key_id}/disable")
def disable_key(ctx: ContextDep, access_key_id: str) -> KeyInfo:
    """Requests signed with it get 1003 "AccessKeyId ... is disabled"."""
    return _set_enabled(ctx, access_key_id, False)


@router.post("/{access_key_id}/enable")
def enable_key(ctx: ContextDep, access_key_id: str) -> KeyInfo:
    return _set_enabled(ctx, access_key_id, True)


@router.delete("/{access_key_id}", status_code=204)
def delete_key(ctx: ContextDep, access_key_id: str) -> Response:
    with ctx.db.write() as session:
        keys.delete(session=session, access_key_id=access_key_id)
    ctx.keys.forget()
    return Response(status_code=204)


def _set_enabled(ctx: ContextDep, access_key_id: str, enabled: bool) -> KeyInfo:
    with ctx.db.write() as session:
        key = keys.set_enabled(session=session, access_key_id=access_key_id, enabled=enabled)
        info = _info(key)
    ctx.keys.forget()
    return info
