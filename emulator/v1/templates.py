"""/vodencoding/v1 template routes: add, del, query, update, list, keyed by template_name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from emulator.api.deps import ContextDep, check_v1_auth
from emulator.api.envelope import Envelope, ok
from emulator.api.params import openapi
from emulator.context import Context
from emulator.db.state import clock_now
from emulator.services import templates
from emulator.v1.params import PREFIX, AddTemplate, ByTemplateName, UpdateTemplate, v1_params
from emulator.v1.views import TemplateListV1, TemplateV1, template_v1

router = APIRouter(prefix=PREFIX, tags=["v1 template"], dependencies=[Depends(check_v1_auth)])


@router.post(
    "/add_template", response_model=Envelope[TemplateV1], openapi_extra=openapi(AddTemplate, "POST")
)
def add_template(
    request: Request, ctx: ContextDep, p: Annotated[AddTemplate, Depends(v1_params(AddTemplate))]
) -> Response:
    columns, extra = templates.split_fields(p.given())
    with ctx.db.write() as session:
        template = templates.add(
            session=session,
            name=p.template_name,
            fields=columns,
            extra=extra,
            now=clock_now(session),
            max_pixel_rate=ctx.settings.max_pixel_rate,
        )
        view = template_v1(template)
    return ok(request, view)


@router.delete(
    "/del_template", response_model=Envelope[None], openapi_extra=openapi(ByTemplateName, "DELETE")
)
def del_template(
    request: Request,
    ctx: ContextDep,
    p: Annotated[ByTemplateName, Depends(v1_params(ByTemplateName))],
) -> Response:
    with ctx.db.write() as session:
        templates.delete(session=session, name=p.template_name)
    return ok(request)


@router.get(
    "/query_template",
    response_model=Envelope[TemplateV1],
    openapi_extra=openapi(ByTemplateName, "GET"),
)
def query_template(
    request: Request,
    ctx: ContextDep,
    p: Annotated[ByTemplateName, Depends(v1_params(ByTemplateName))],
) -> Response:
    return ok(request, read_template(ctx, p))


def read_template(ctx: Context, p: ByTemplateName) -> TemplateV1:
    """query_template's data; emulator/api/fast.py answers the polled reads with these too."""
    return ctx.db.read_view(
        ("v1/query_template", p.template_name),
        lambda session: template_v1(templates.get(session=session, name=p.template_name)),
    )


@router.put(
    "/update_template",
    response_model=Envelope[TemplateV1],
    openapi_extra=openapi(UpdateTemplate, "PUT"),
)
def update_template(
    request: Request,
    ctx: ContextDep,
    p: Annotated[UpdateTemplate, Depends(v1_params(UpdateTemplate))],
) -> Response:
    """Changes the non-zero fields given (the SDK sends every field; zero = not given)."""
    columns, extra = templates.split_fields(p.given())
    with ctx.db.write() as session:
        template = templates.update(
            session=session,
            name=p.template_name,
            fields=columns,
            extra=extra,
            max_pixel_rate=ctx.settings.max_pixel_rate,
        )
        view = template_v1(template)
    return ok(request, view)


@router.get("/list_template", response_model=Envelope[TemplateListV1])
def list_template(request: Request, ctx: ContextDep) -> Response:
    return ok(request, read_templates(ctx, None))


def read_templates(ctx: Context, _: None) -> TemplateListV1:
    def build(session: Session) -> TemplateListV1:
        rows = [template_v1(t) for t in templates.list_all(session=session)]
        return {"list": rows, "num": len(rows)}

    return ctx.db.read_view(("v1/list_template",), build)
