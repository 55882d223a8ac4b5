"""The dashboard's settings page: every setting with its variable, value and default (secrets
masked), the URLs in effect, and the control state in force."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Request

from emulator.api.deps import ContextDep
from emulator.config import Settings
from emulator.control.common import TokenDep
from emulator.control.ui import PREFIX, UiRoute, _render
from emulator.db import state
from emulator.services import faults, holds

views = APIRouter(
    prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep], include_in_schema=False
)
SECRET_SETTINGS = frozenset({"access_key_secret", "control_token"})


@views.get("/settings")
def settings_page(request: Request, ctx: ContextDep) -> Any:
    """Every setting (secrets masked), the effective URLs, and the control state in force."""
    settings = ctx.settings
    with ctx.db.read() as session:
        clock = {"setting": state.clock_setting(session), "now": state.clock_now(session)}
        held = holds.list_holds(session)
        injected = faults.active(faults.list_all(session=session))
    return _render(
        request,
        "settings.html",
        active="settings",
        title="Settings",
        rows=settings_rows(settings),
        effective={
            "API base URL": settings.api_base_url,
            "S3 endpoint": ctx.s3_endpoint or "",
            "Public S3 URL (presigned links)": settings.public_s3_url or ctx.s3_endpoint or "",
            "Database": _mask_url(settings.sqlalchemy_url),
            "Data directory": str(settings.data_dir.resolve()),
        },
        health=request.app.state.runtime.health(),
        clock=clock,
        holds=held,
        faults=injected,
    )


def settings_rows(settings: Settings) -> list[dict[str, Any]]:
    """Name, environment variable, value shown, default shown, changed from the default."""
    fields = type(settings).model_fields.items()
    return [
        {
            "name": name,
            "env": f"EMULATOR_{name.upper()}",
            "value": _shown(name, getattr(settings, name)),
            "default": _shown(name, field.get_default(call_default_factory=True)),
            "changed": getattr(settings, name) != field.get_default(call_default_factory=True),
            "description": field.description or "",
        }
        for name, field in fields
    ]


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "not set"
    text = str(value)
    if name == "control_token":
        return "set (hidden)"
    if name in SECRET_SETTINGS:  # the first characters tell keys apart, as the banner does
        return text[:4] + "*" * (len(text) - 4)
    return _mask_url(text) if name == "database_url" else text


def _mask_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
