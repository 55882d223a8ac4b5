"""Storages: where task outputs go (SPEC.md section 3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session, select

from emulator.db.models import Storage
from emulator.errors import Duplicated, EmptyResult
from emulator.services.ids import hex_id

STORAGE_TYPES = ("s3", "oss")


def add(
    *,
    session: Session,
    type: str,
    region: str,
    bucket: str,
    prefix: str = "",
    storage_ak: str = "",
    storage_sk: str = "",
    notify: str = "",
    extra: dict[str, object] | None = None,
    now: float,
    prepare_bucket: Callable[[str], None] | None = None,
    storage_id: str | None = None,
) -> Storage:
    """Record a storage; `prepare_bucket` creates (or checks) the bucket in the object store.

    `storage_id` is the seed file's fixed id; the API always lets one be made.
    """
    clash = session.exec(
        select(Storage).where(
            Storage.type == type,
            Storage.region == region,
            Storage.bucket == bucket,
            Storage.prefix == prefix,
        )
    ).first()
    if clash:
        raise Duplicated(f"storage {clash.storage_id} has the same type, region, bucket and prefix")
    if prepare_bucket is not None:
        prepare_bucket(bucket)
    storage = Storage(
        storage_id=storage_id or hex_id(16),
        type=type,
        region=region,
        bucket=bucket,
        prefix=prefix,
        storage_ak=storage_ak,
        storage_sk=storage_sk,
        notify=notify,
        extra=extra or {},
        created_time=now,
    )
    session.add(storage)
    return storage


def get(*, session: Session, storage_id: str) -> Storage:
    storage = session.get(Storage, storage_id)
    if storage is None:
        raise EmptyResult(f"storage {storage_id!r} does not exist")
    return storage


def list_all(*, session: Session) -> Sequence[Storage]:
    return session.exec(
        select(Storage).order_by(Storage.created_time, Storage.storage_id)  # type: ignore[arg-type]
    ).all()


def delete(*, session: Session, storage_id: str) -> None:
    """Tasks keep a snapshot of their storage, so this never breaks one."""
    session.delete(get(session=session, storage_id=storage_id))


def snapshot(storage: Storage) -> dict[str, object]:
    return storage.model_dump()
