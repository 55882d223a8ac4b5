"""/api/ template routes: add, del, query, update, list (SPEC.md section 4)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from emulator import template_spec as spec
from emulator.api.deps import ContextDep, check_signature
from emulator.api.envelope import Envelope, ok
from emulator.api.params import VendorParams, openapi, params
from emulator.api.views import TemplateList, TemplateView, template_view
from emulator.context import Context
from emulator.db.state import clock_now
from emulator.services import fields, templates

router = APIRouter(prefix="/api", tags=["template"], dependencies=[Depends(check_signature)])


class TemplateFields(VendorParams):
    """The optional template fields, with TemplateSpec's types; None means "not given".

    /api's own contract on top: whole-number quality, `X:Y` logo offsets, no dash.
    """

    description: fields.Text | None = None
    format: Literal["mp4", "hls", "flv"] | None = None
    quality: spec.WholeQuality | None = None
    framerate: spec.Framerate | None = None
    resolution: fields.Resolution | None = None
    vcodec: spec.VideoCodec | None = None
    acodec: fields.AudioCodec | None = None
    audio_bitrate: spec.AudioBitrate | None = None
    logo_path: fields.MediaUrl | None = None
    logo_size: fields.LogoSize | None = None
    logo_offset: fields.LogoOffset | None = None

    def given(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in self.model_dump(exclude={"name"}).items()
            if value is not None
        }


class AddTemplate(TemplateFields):
    name: fields.Name


class UpdateTemplate(TemplateFields):
    name: fields.Name


class ByName(VendorParams):
    name: fields.Name


@router.post(
    "/add_template",
    response_model=Envelope[TemplateView],
    openapi_extra=openapi(AddTemplate, "POST"),
)
def add_template(
    request: Request, ctx: ContextDep, p: Annotated[AddTemplate, Depends(params(AddTemplate))]
) -> Response:
    with ctx.db.write() as session:
        template = templates.add(
            session=session,
            name=p.name,
            fields=p.given(),
            now=clock_now(session),
            max_pixel_rate=ctx.settings.max_pixel_rate,
        )
        view = template_view(template)
    return ok(request, view)


@router.delete(
    "/del_template", response_model=Envelope[None], openapi_extra=openapi(ByName, "DELETE")
)
def del_template(
    request: Request, ctx: ContextDep, p: Annotated[ByName, Depends(params(ByName))]
) -> Response:
    with ctx.db.write() as session:
        templates.delete(session=session, name=p.name)
    return ok(request)


@router.get(
    "/query_template", response_model=Envelope[TemplateView], openapi_extra=openapi(ByName, "GET")
)
def query_template(
    request: Request, ctx: ContextDep, p: Annotated[ByName, Depends(params(ByName))]
) -> Response:
    return ok(request, read_template(ctx, p))


def read_template(ctx: Context, p: ByName) -> TemplateView:
    """query_template's data; emulator/api/fast.py answers the polled reads with these too."""
    return ctx.db.read_view(
        ("api/query_template", p.name),
        lambda session: template_view(templates.get(session=session, name=p.name)),
    )


@router.put(
    "/update_template",
    response_model=Envelope[TemplateView],
    openapi_extra=openapi(UpdateTemplate, "PUT"),
)
def update_template(
    request: Request,
    ctx: ContextDep,
    p: Annotated[UpdateTemplate, Depends(params(UpdateTemplate))],
) -> Response:
    with ctx.db.write() as session:
        template = templates.update(
            session=session,
            name=p.name,
            fields=p.given(),
            max_pixel_rate=ctx.settings.max_pixel_rate,
        )
        view = template_view(template)
    return ok(request, view)


@router.get("/list_template", response_model=Envelope[TemplateList])
def list_template(request: Request, ctx: ContextDep) -> Response:
    return ok(request, read_templates(ctx, None))


def read_templates(ctx: Context, _: None) -> TemplateList:
    def build(session: Session) -> TemplateList:
        rows = [template_view(t) for t in templates.list_all(session=session)]
        return {"list": rows, "num": len(rows)}

    return ctx.db.read_view(("api/list_template",), build)
