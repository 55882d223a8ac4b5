"""The dashboard's sign-in with the control token: a form, an HttpOnly SameSite=Strict cookie,
and sign-out. Open without the token (it is how a browser gets it)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from emulator.control.common import TOKEN_COOKIE
from emulator.control.ui import PREFIX, FormDep, UiRoute, _render

views = APIRouter(prefix=PREFIX, route_class=UiRoute, include_in_schema=False)


@views.get("/login")
def login_form(request: Request, target: Annotated[str, Query(alias="next")] = PREFIX) -> Any:
    return _login_page(request, _safe_next(target), error="")


@views.post("/login")
def login_submit(request: Request, form: FormDep) -> Any:
    """Checks the token and stores it in an HttpOnly, SameSite=Strict cookie for /_emulator."""
    given = form.get("token", "").strip()
    target = _safe_next(form.get("next", PREFIX))
    expected = request.app.state.ctx.settings.control_token
    if not expected:
        return RedirectResponse(target, status_code=303)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        error = "That is not the control token." if given else "Enter the control token."
        return _login_page(request, target, error=error, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        given,
        path="/_emulator",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@views.post("/logout")
def logout(request: Request) -> Any:
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/_emulator", httponly=True, samesite="strict")
    return response


def _login_page(request: Request, target: str, *, error: str, status_code: int = 200) -> Any:
    return _render(
        request, "login.html", status_code, active="", title="Sign in", next=target, error=error
    )


def _safe_next(target: str) -> str:
    """Only a dashboard path: never another site (an open redirect)."""
    if target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX
