"""Templates: built-ins (seeded by the first migration) and custom ones (SPEC.md section 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, select

from emulator.db.models import Template
from emulator.errors import BadParam, Duplicated, EmptyResult, OperationFail
from emulator.services.ids import hex_id
from emulator.template_spec import InvalidField, TemplateSpec
from emulator.transcode import ladder

BUILT_IN = "built-in"
CUSTOM = "custom"

# The fields both generations share (the template's columns), with TemplateSpec's defaults
# (SPEC.md section 4); v1's other fields are kept in `extra`.
DEFAULTS: dict[str, Any] = {
    name: value
    for name, value in TemplateSpec().vendor_fields().items()
    if name in Template.model_fields
}


def add(
    *,
    session: Session,
    name: str,
    fields: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    now: float,
    max_pixel_rate: int | None = None,
) -> Template:
    """A custom template; BadParam when what it fixes is over `max_pixel_rate` (pixels/s)."""
    if _find(session, name) is not None:
        raise Duplicated(f"template {name!r} exists already")
    values = {**DEFAULTS, **{k: v for k, v in fields.items() if k in DEFAULTS}}
    template = Template(
        template_id=hex_id(16),
        name=name,
        template_type=CUSTOM,
        extra=dict(extra or {}),
        create_time=now,
        **values,
    )
    _check_pixel_rate(template, max_pixel_rate)
    session.add(template)
    return template


def get(*, session: Session, name: str) -> Template:
    template = _find(session, name)
    if template is None:
        raise EmptyResult(f"template {name!r} does not exist")
    return template


def get_for_task(*, session: Session, name: str) -> Template:
    """The template a new task names: an unknown one is a bad parameter (SPEC.md section 1)."""
    template = _find(session, name)
    if template is None:
        raise BadParam(f"template_name: template {name!r} does not exist")
    return template


def update(
    *,
    session: Session,
    name: str,
    fields: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    max_pixel_rate: int | None = None,
) -> Template:
    """Change only the fields given; BadParam when the result is over `max_pixel_rate`."""
    template = _mutable(session, name, "updated")
    for key, value in fields.items():
        if key in DEFAULTS:
            setattr(template, key, value)
    if extra:
        template.extra = {**template.extra, **extra}
    _check_pixel_rate(template, max_pixel_rate)
    session.add(template)
    return template


def delete(*, session: Session, name: str) -> None:
    session.delete(_mutable(session, name, "deleted"))


def list_all(*, session: Session) -> Sequence[Template]:
    """Built-ins first, then custom templates in creation order."""
    builtin_first = case((col(Template.template_type) == BUILT_IN, 0), else_=1)
    return session.exec(
        select(Template).order_by(builtin_first, Template.create_time, Template.template_id)  # type: ignore[arg-type]
    ).all()


def split_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(columns, extra): fields both generations share, and the v1-only ones kept in `extra`."""
    columns = {k: v for k, v in values.items() if k in DEFAULTS}
    extra = {k: v for k, v in values.items() if k not in DEFAULTS}
    return columns, extra


def snapshot(template: Template) -> dict[str, Any]:
    return template.model_dump()


def parse(template: Template) -> TemplateSpec:
    """The template as the worker will read it; BadParam naming a field that breaks a rule."""
    try:
        return TemplateSpec.from_stored(template.model_dump())
    except InvalidField as bad:
        raise BadParam(f"{bad.field}: {bad.reason}") from None


def _check_pixel_rate(template: Template, limit: int | None) -> None:
    """The rule both generations share: what the template fixes (sizes and frame rates of all
    renditions) must stay under the limit; what it keeps from the source is checked once the
    input is probed (the task fails 2003 then)."""
    spec = parse(template)  # also checks the fields together, as the worker reads them
    if limit is None:
        return
    if excess := ladder.pixel_rate_excess(ladder.renditions(spec), None, limit):
        raise BadParam(f"resolution, framerate: {excess}")


def _find(session: Session, name: str) -> Template | None:
    return session.exec(select(Template).where(Template.name == name)).first()


def _mutable(session: Session, name: str, verb: str) -> Template:
    template = get(session=session, name=name)
    if template.template_type == BUILT_IN:
        raise OperationFail(f"built-in template {name!r} cannot be {verb}")
    return template
