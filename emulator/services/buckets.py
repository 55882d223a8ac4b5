"""Buckets behind storages: created on add_storage unless EMULATOR_CREATE_BUCKETS=off."""

from __future__ import annotations

from collections.abc import Callable

from emulator.context import Context
from emulator.errors import OperationFail


def bucket_preparer(ctx: Context) -> Callable[[str], None] | None:
    objects = ctx.objects
    if objects is None:
        return None
    create = ctx.settings.create_buckets == "on"

    def prepare(bucket: str) -> None:
        if create:
            objects.ensure_bucket(bucket)
        elif not objects.bucket_exists(bucket):
            raise OperationFail(
                f"bucket {bucket!r} does not exist in the object store "
                "(EMULATOR_CREATE_BUCKETS=off, so the emulator does not create it)"
            )

    return prepare
