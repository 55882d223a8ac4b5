"""With EMULATOR_CONTROL_TOKEN set, a browser signs in through /_emulator/ui/login (a cookie)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from emulator.control.common import TOKEN_COOKIE
from emulator.server import EmulatorServer
from tests.ui.conftest import Snap

# Collected without the dev dependency too: the module then skips, saying why.
expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

TOKEN = "ui-control-token"
UI = "/_emulator/ui"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "control_token": TOKEN}


def test_a_page_without_the_token_sends_the_browser_to_the_login_form(page: Any) -> None:
    page.goto(f"{UI}/storages")
    expect(page).to_have_url(re.compile(r"/_emulator/ui/login\?next=%2F_emulator%2Fui%2Fstorages$"))
    expect(page.get_by_label("Control token")).to_be_visible()


def test_a_wrong_token_is_refused(page: Any) -> None:
    page.goto(f"{UI}/login")
    page.get_by_label("Control token").fill("not-the-token")
    with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("That is not the control token.")
    assert not [c for c in page.context.cookies() if c["name"] == TOKEN_COOKIE]


def test_signing_in_sets_an_httponly_strict_cookie_and_opens_the_page(
    page: Any, snap: Snap
) -> None:
    page.goto(f"{UI}/keys")
    snap(page, "login")
    page.get_by_label("Control token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Access keys")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == TOKEN_COOKIE]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/_emulator"

    page.goto(UI)  # live refreshes carry the cookie too
    expect(page.locator("#live-state")).to_have_text("live")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Control token")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == TOKEN_COOKIE]


def test_live_fragments_answer_401_to_a_fetch_without_the_token(emulator: EmulatorServer) -> None:
    response = httpx.get(
        f"{emulator.base_url}{UI}/fragments/tasks", headers={"X-Emulator-UI": "fetch"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == 1003


def test_the_login_form_only_redirects_inside_the_dashboard(emulator: EmulatorServer) -> None:
    response = httpx.post(
        f"{emulator.base_url}{UI}/login",
        content=f"token={TOKEN}&next=https://elsewhere.example/",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == UI
