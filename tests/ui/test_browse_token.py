"""With EMULATOR_CONTROL_TOKEN set, the objects, snapshots and inbox pages and forms need it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer
from emulator.services import inbox, snapshots

TOKEN = "browse-control-token"
UI = "/_emulator/ui"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0, "control_token": TOKEN}


@pytest.mark.parametrize("path", ["/objects", "/objects/out", "/snapshots", "/inbox", "/inbox/a"])
def test_a_page_without_the_token_goes_to_the_login_form(
    emulator: EmulatorServer, path: str
) -> None:
    response = httpx.get(f"{emulator.base_url}{UI}{path}", timeout=30)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{UI}/login?next=")


@pytest.mark.parametrize(
    ("path", "form"),
    [
        pytest.param("/snapshots", {"name": "no-token"}, id="save"),
        pytest.param("/snapshots/kept/restore", None, id="restore"),
        pytest.param("/snapshots/kept/delete", None, id="delete"),
        pytest.param("/inbox/kept/clear", None, id="clear"),
    ],
)
def test_a_form_without_the_token_changes_nothing(
    emulator: EmulatorServer, path: str, form: Any
) -> None:
    runtime = emulator.app.state.runtime
    if not snapshots.list_snapshots(runtime=runtime):
        snapshots.save(runtime=runtime, name="kept")
    httpx.post(f"{emulator.base_url}/_emulator/inbox/kept", content=b"x", timeout=30)
    with emulator.app.state.ctx.db.read() as session:
        before = len(inbox.read(session, name="kept"))

    response = httpx.post(f"{emulator.base_url}{UI}{path}", data=form, timeout=30)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{UI}/login?next=")
    assert [i.name for i in snapshots.list_snapshots(runtime=runtime)] == ["kept"]
    with emulator.app.state.ctx.db.read() as session:
        assert len(inbox.read(session, name="kept")) == before


def test_a_form_with_the_token_works(emulator: EmulatorServer) -> None:
    response = httpx.post(
        f"{emulator.base_url}{UI}/snapshots",
        data={"name": "with-token"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 303
    runtime = emulator.app.state.runtime
    assert "with-token" in [i.name for i in snapshots.list_snapshots(runtime=runtime)]
    snapshots.delete(runtime=runtime, name="with-token")


def test_the_pages_are_not_in_the_openapi_schema(emulator: EmulatorServer) -> None:
    paths = httpx.get(f"{emulator.base_url}/openapi.json", timeout=30).json()["paths"]
    mine = tuple(f"{UI}/{page}" for page in ("objects", "snapshots", "inbox", "fragments/inbox"))
    assert [p for p in paths if p.startswith(mine)] == []
