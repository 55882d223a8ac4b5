"""/api/ storage routes: add_storage, del_storage, list_storage, list_storage_type(s)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field
from sqlmodel import Session

from emulator.api.deps import ContextDep, check_signature
from emulator.api.envelope import Envelope, ok
from emulator.api.params import VendorParams, openapi, params
from emulator.api.views import StorageId, StorageList, StorageTypes, storage_view
from emulator.context import Context
from emulator.db.state import clock_now
from emulator.services import fields, storages
from emulator.services.buckets import bucket_preparer

router = APIRouter(prefix="/api", tags=["storage"])
signed = [Depends(check_signature)]


class AddStorage(VendorParams):
    region: fields.Label = Field(min_length=1, description="e.g. cn-hangzhou")
    type: Literal["s3", "oss"]
    bucket: fields.Bucket
    prefix: fields.Prefix = ""
    storage_ak: fields.Secret = ""
    storage_sk: fields.Secret = ""
    notify: fields.NotifyUrl = ""


class DelStorage(VendorParams):
    storage_id: fields.Label


@router.post(
    "/add_storage",
    dependencies=signed,
    response_model=Envelope[StorageId],
    openapi_extra=openapi(AddStorage, "POST"),
)
def add_storage(
    request: Request, ctx: ContextDep, p: Annotated[AddStorage, Depends(params(AddStorage))]
) -> Response:
    with ctx.db.write() as session:
        storage = storages.add(
            session=session,
            **p.model_dump(),
            now=clock_now(session),
            prepare_bucket=bucket_preparer(ctx),
        )
    return ok(request, {"storage_id": storage.storage_id})


@router.delete(
    "/del_storage",
    dependencies=signed,
    response_model=Envelope[None],
    openapi_extra=openapi(DelStorage, "DELETE"),
)
def del_storage(
    request: Request, ctx: ContextDep, p: Annotated[DelStorage, Depends(params(DelStorage))]
) -> Response:
    with ctx.db.write() as session:
        storages.delete(session=session, storage_id=p.storage_id)
    return ok(request)


@router.get("/list_storage", dependencies=signed, response_model=Envelope[StorageList])
def list_storage(request: Request, ctx: ContextDep) -> Response:
    return ok(request, read_storages(ctx, None))


def read_storages(ctx: Context, _: None) -> StorageList:
    """list_storage's data; emulator/api/fast.py answers the polled reads with these too."""

    def build(session: Session) -> StorageList:
        rows = [storage_view(s) for s in storages.list_all(session=session)]
        return {"list": rows, "num": len(rows)}

    return ctx.db.read_view(("api/list_storage",), build)


# The reference uses both names (SPEC.md section 3); neither needs a signature.
@router.get("/list_storage_type", response_model=Envelope[StorageTypes])
@router.get("/list_storage_types", response_model=Envelope[StorageTypes])
async def list_storage_types(request: Request) -> Response:
    types: StorageTypes = {"list": list(storages.STORAGE_TYPES), "num": len(storages.STORAGE_TYPES)}
    return ok(request, types)
