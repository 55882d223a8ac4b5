"""Storages and templates added, updated and deleted from the dashboard, API errors inline.

The forms post to this router; the dashboard's server side calls the same service functions
as the API (never a signed API call from the browser). Cross-site posts never get here: the
middleware refuses a foreign Origin or Sec-Fetch-Site: cross-site on the control surface.

Each form is parsed by the request model and the parameter rules of the API it stands for
(`validate`, and v1's `normalize` for its zero-means-not-given habit), so a mistake shows
the code and detail that API would answer. A failed form comes back with the values typed
kept, except the storage keys, which never travel back to the browser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from emulator.api import templates as api_templates
from emulator.api.deps import ContextDep
from emulator.api.params import json_object, validate
from emulator.api.storages import AddStorage
from emulator.api.views import template_view
from emulator.context import Context
from emulator.control.common import TokenDep, http_status
from emulator.control.ui import PREFIX, FormDep, UiRoute, _render
from emulator.db.state import clock_now
from emulator.errors import ApiError, BadParam
from emulator.services import storages, templates
from emulator.services.buckets import bucket_preparer
from emulator.v1 import params as v1_params

views = APIRouter(
    prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep], include_in_schema=False
)

SECRETS = ("storage_ak", "storage_sk")
MORE = "more_fields"


Notice = Annotated[str | None, Query(max_length=200)]


def _notice(kind: str, shown: set[str], done: dict[str, str | None]) -> str:
    """What the redirect after a post says ({"added": name}...), if the table agrees: a
    typed URL cannot announce what did not happen."""
    for verb, name in done.items():
        if name and (name not in shown if verb == "deleted" else name in shown):
            return f"{kind} {name} {verb}."
    return ""


def _back(path: str, **notice: str) -> RedirectResponse:
    query = "&".join(f"{key}={quote(value, safe='')}" for key, value in notice.items())
    return RedirectResponse(f"{PREFIX}{path}?{query}", status_code=303)


# Storages -----------------------------------------------------------------------------------


@views.get("/storages")
def storages_page(
    request: Request, ctx: ContextDep, added: Notice = None, deleted: Notice = None
) -> Any:
    """Storages with their keys shown as set or not, never their values; the add form."""
    return storages_view(request, ctx, added=added, deleted=deleted)


def storages_view(
    request: Request,
    ctx: Context,
    *,
    form: dict[str, str] | None = None,
    error: ApiError | None = None,
    error_at: str = "",
    added: str | None = None,
    deleted: str | None = None,
) -> HTMLResponse:
    """The page; after a failed post, `error` by the add form or by the table (`error_at`)."""
    with ctx.db.read() as session:
        rows = storages.list_all(session=session)
    kept = {key: value for key, value in (form or {}).items() if key not in SECRETS}
    return _render(
        request,
        "storages.html",
        http_status(error),
        active="storages",
        title="Storages",
        rows=rows,
        types=literal_values(AddStorage.model_fields["type"].annotation),
        form=kept,
        error=error,
        error_at=error_at,
        notice=_notice(
            "Storage", {row.storage_id for row in rows}, {"added": added, "deleted": deleted}
        ),
    )


@views.post("/storages")
def add_storage(request: Request, ctx: ContextDep, form: FormDep) -> Response:
    """add_storage's parameters, checked by its own model, then storages.add as /api does."""
    try:
        p = validate(AddStorage, form)
        with ctx.db.write() as session:
            storage = storages.add(
                session=session,
                **p.model_dump(),
                now=clock_now(session),
                prepare_bucket=bucket_preparer(ctx),
            )
            storage_id = storage.storage_id
    except ApiError as error:
        return storages_view(request, ctx, form=form, error=error, error_at="add")
    return _back("/storages", added=storage_id)


@views.post("/storages/{storage_id}/delete")
def delete_storage(request: Request, ctx: ContextDep, storage_id: str) -> Response:
    try:
        with ctx.db.write() as session:
            storages.delete(session=session, storage_id=storage_id)
    except ApiError as error:
        return storages_view(request, ctx, error=error, error_at="table")
    return _back("/storages", deleted=storage_id)


# Templates ----------------------------------------------------------------------------------

# The fields both generations share get an input each; the rest go in the JSON textarea.
INPUTS = (
    *("description", "format", "vcodec", "acodec", "resolution"),
    *("framerate", "quality", "audio_bitrate"),
)
# Read as JSON numbers, as an SDK sends them: v1 then drops a 0 as "not given".
NUMBERS = frozenset({"framerate", "quality", "audio_bitrate"})
HINTS = {
    "resolution": "720p or 1280x720; empty keeps the source's",
    "framerate": "fps; 0 keeps the source's",
    "quality": "1 to 10",
    "audio_bitrate": "bit/s, e.g. 128000",
}


Parsed = tuple[str, dict[str, Any], dict[str, Any]]  # name, columns, extra


def _api_fields(raw: dict[str, Any], update: bool) -> Parsed:
    """As emulator/api/templates.py's add_template (or update_template) reads parameters."""
    p = (
        validate(api_templates.UpdateTemplate, raw)
        if update
        else validate(api_templates.AddTemplate, raw)
    )
    return p.name, p.given(), {}


def _v1_fields(raw: dict[str, Any], update: bool) -> Parsed:
    """As emulator/v1/templates.py's add_template (or update_template) reads parameters:
    zero values are not given."""
    given = v1_params.normalize(raw)
    p = (
        validate(v1_params.UpdateTemplate, given)
        if update
        else validate(v1_params.AddTemplate, given)
    )
    columns, extra = templates.split_fields(p.given())
    return p.template_name, columns, extra


@dataclass(frozen=True)
class Generation:
    """One API generation's add_template and update_template: its request model (for the
    form's fields) and how it reads parameters."""

    key: str
    title: str
    model: type[BaseModel]
    name_field: str
    parse: Callable[[dict[str, Any], bool], Parsed]
    hints: Mapping[str, str] = field(default_factory=dict)  # this generation's own habits

    def fields(self) -> list[dict[str, Any]]:
        """What the form shows for each input: a select for a Literal field, else an input."""
        return [
            {
                "name": name,
                "choices": literal_values(self.model.model_fields[name].annotation),
                "number": name in NUMBERS,
                "required": self.model.model_fields[name].is_required(),
                "hint": self.hints.get(name, HINTS.get(name, "")),
                "default": templates.DEFAULTS.get(name, ""),
            }
            for name in (self.name_field, *INPUTS)
        ]

    def more(self) -> list[str]:
        """The fields only the JSON textarea gives."""
        return [name for name in self.model.model_fields if name not in (self.name_field, *INPUTS)]

    def save(self, ctx: Context, raw: dict[str, Any], *, update: bool) -> str:
        """add_template (or update_template: only the fields given change) as this
        generation's route does it; the template's name."""
        name, columns, extra = self.parse(raw, update)
        limit = ctx.settings.max_pixel_rate
        with ctx.db.write() as session:
            if update:
                templates.update(
                    session=session, name=name, fields=columns, extra=extra, max_pixel_rate=limit
                )
            else:
                templates.add(
                    session=session,
                    name=name,
                    fields=columns,
                    extra=extra,
                    now=clock_now(session),
                    max_pixel_rate=limit,
                )
        return name


GENERATIONS = {
    "api": Generation(
        "api",
        "/api",
        api_templates.AddTemplate,
        "name",
        _api_fields,
        hints={"quality": "a whole number, 1 to 10"},
    ),
    "v1": Generation(
        "v1",
        "/vodencoding/v1",
        v1_params.AddTemplate,
        "template_name",
        _v1_fields,
        hints={"audio_bitrate": "bit/s; under 1000: kbit/s"},
    ),
}


def literal_values(annotation: Any) -> list[str]:
    """The values of the Literal inside `annotation` (through Optional and Annotated)."""
    if get_origin(annotation) is Literal:
        return [str(value) for value in get_args(annotation)]
    return [value for arg in get_args(annotation) for value in literal_values(arg)]


def template_params(generation: Generation, form: dict[str, str]) -> dict[str, Any]:
    """The parameters the form stands for: inputs left empty are not given, more fields
    come from the JSON object typed in the textarea."""
    raw: dict[str, Any] = {}
    for name in (generation.name_field, *INPUTS):
        value = form.get(name, "")
        if value != "":
            raw[name] = _number(value) if name in NUMBERS else value
    text = form.get(MORE, "")
    if text.strip():
        try:
            more = json_object(text.encode())
        except BadParam as error:
            raise BadParam(f"more fields: {error.detail}") from None
        if both := sorted(set(more) & set(raw)):
            raise BadParam(f"more fields: {', '.join(both)} also given in the form above")
        raw.update(more)
    return raw


def _number(text: str) -> Any:
    """A number typed in a form as JSON would carry it; anything else as typed, so the
    API's own model says what is wrong with it."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


@views.get("/templates")
def templates_page(
    request: Request,
    ctx: ContextDep,
    added: Notice = None,
    updated: Notice = None,
    deleted: Notice = None,
) -> Any:
    """Built-in templates first, then custom ones (v1's fields as `extra`); the add forms."""
    done = {"added": added, "updated": updated, "deleted": deleted}
    return templates_view(request, ctx, done=done)


def templates_view(
    request: Request,
    ctx: Context,
    *,
    form: dict[str, str] | None = None,
    error: ApiError | None = None,
    error_at: str = "",
    done: dict[str, str | None] | None = None,
) -> HTMLResponse:
    """The page; after a failed post, `error` by the form of `error_at` or by the table."""
    with ctx.db.read() as session:
        rows = [{**template_view(t), "extra": t.extra} for t in templates.list_all(session=session)]
    return _render(
        request,
        "templates.html",
        http_status(error),
        active="templates",
        title="Templates",
        rows=rows,
        generations=list(GENERATIONS.values()),
        more_name=MORE,
        form=form or {},
        error=error,
        error_at=error_at,
        notice=_notice("Template", {str(row["name"]) for row in rows}, done or {}),
    )


@views.post("/templates")
def add_template(request: Request, ctx: ContextDep, form: FormDep) -> Response:
    """add_template of the generation the form names, parsed as that generation parses it."""
    return _save_template(request, ctx, form, update=False)


@views.post("/templates/update")
def update_template(request: Request, ctx: ContextDep, form: FormDep) -> Response:
    """update_template from the same form: the template it names gets the fields given."""
    return _save_template(request, ctx, form, update=True)


def _save_template(
    request: Request, ctx: Context, form: dict[str, str], *, update: bool
) -> Response:
    generation = GENERATIONS.get(form.get("generation", ""))
    if generation is None:
        error = BadParam(f"generation: must be one of {', '.join(GENERATIONS)}")
        return templates_view(request, ctx, error=error, error_at="table")
    try:
        name = generation.save(ctx, template_params(generation, form), update=update)
    except ApiError as error:
        return templates_view(request, ctx, form=form, error=error, error_at=generation.key)
    return _back("/templates", **{"updated" if update else "added": name})


# The name travels in the form, not the path: a name may hold "/" or be "..", which a
# browser would fold into another URL.
@views.post("/templates/delete")
def delete_template(request: Request, ctx: ContextDep, form: FormDep) -> Response:
    """del_template: the service refuses a built-in (1005), shown above the table."""
    name = form.get("name", "")
    try:
        with ctx.db.write() as session:
            templates.delete(session=session, name=name)
    except ApiError as error:
        return templates_view(request, ctx, error=error, error_at="table")
    return _back("/templates", deleted=name)
