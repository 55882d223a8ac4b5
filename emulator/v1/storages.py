"""/vodencoding/v1 storage routes: add_storage, del_storage, list_storage, list_storage_type(s)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from emulator.api import storages as api_storages
from emulator.api.deps import ContextDep, check_v1_auth
from emulator.api.envelope import Envelope, ok
from emulator.api.params import openapi
from emulator.api.views import StorageId, StorageTypes
from emulator.context import Context
from emulator.db.state import clock_now
from emulator.services import storages
from emulator.services.buckets import bucket_preparer
from emulator.v1.params import PREFIX, AddStorage, ByStorageId, v1_params
from emulator.v1.views import StorageListV1, storage_v1

router = APIRouter(prefix=PREFIX, tags=["v1 storage"])
authed = [Depends(check_v1_auth)]


@router.post(
    "/add_storage",
    dependencies=authed,
    response_model=Envelope[StorageId],
    openapi_extra=openapi(AddStorage, "POST"),
)
def add_storage(
    request: Request, ctx: ContextDep, p: Annotated[AddStorage, Depends(v1_params(AddStorage))]
) -> Response:
    with ctx.db.write() as session:
        storage = storages.add(
            session=session,
            **p.columns(),
            extra=p.extras(),
            now=clock_now(session),
            prepare_bucket=bucket_preparer(ctx),
        )
    return ok(request, {"storage_id": storage.storage_id})


@router.delete(
    "/del_storage",
    dependencies=authed,
    response_model=Envelope[None],
    openapi_extra=openapi(ByStorageId, "DELETE"),
)
def del_storage(
    request: Request, ctx: ContextDep, p: Annotated[ByStorageId, Depends(v1_params(ByStorageId))]
) -> Response:
    with ctx.db.write() as session:
        storages.delete(session=session, storage_id=p.storage_id)
    return ok(request)


@router.get("/list_storage", dependencies=authed, response_model=Envelope[StorageListV1])
def list_storage(request: Request, ctx: ContextDep) -> Response:
    return ok(request, read_storages(ctx, None))


def read_storages(ctx: Context, _: None) -> StorageListV1:
    """list_storage's data; emulator/api/fast.py answers the polled reads with these too."""

    def build(session: Session) -> StorageListV1:
        rows = [storage_v1(s) for s in storages.list_all(session=session)]
        return {"list": rows, "num": len(rows)}

    return ctx.db.read_view(("v1/list_storage",), build)


# As on /api/ (SPEC.md section 3): both names, no authentication, the same handler.
router.get("/list_storage_type", response_model=Envelope[StorageTypes])(
    api_storages.list_storage_types
)
router.get("/list_storage_types", response_model=Envelope[StorageTypes])(
    api_storages.list_storage_types
)
