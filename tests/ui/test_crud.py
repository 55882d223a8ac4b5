"""Storages and templates added and deleted from the dashboard, in a real browser.

Each action is clicked in Chromium and its effect checked on the page and through the API;
an invalid form shows the very code and detail the API answers for the same parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.control.ui_crud import MORE
from emulator.errors import ApiError
from emulator.server import EmulatorServer
from emulator.services import templates
from tests.conftest import make_settings
from tests.ui.conftest import Snap

# Collected without the dev dependency too: the module then skips, saying why.
expect = pytest.importorskip(
    "playwright.sync_api", reason="UI TESTS SKIPPED: the playwright package is missing"
).expect

UI = "/_emulator/ui"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}  # nothing here runs a task


@pytest.fixture
def v1(api: TranscodeClient, emulator: EmulatorServer) -> Iterator[TranscodeClientV1]:
    """A v1 client of the emulator `api` has just reset."""
    s = emulator.settings
    with TranscodeClientV1(emulator.base_url, s.access_key_id, s.access_key_secret) as client:
        yield client


def fill(form: Any, values: dict[str, str]) -> None:
    """Type each value into the form's field of that name (or pick it, for a select)."""
    for name, value in values.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def submit(page: Any, form: Any, button: str) -> Any:
    """Click the form's button; the response to its POST (a 303, or the page with an error)."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name=button).click()
    page.wait_for_load_state()
    return answer.value


def api_error(call: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value


def template_names(api: TranscodeClient) -> list[str]:
    return [row["name"] for row in api.call("GET", "/api/list_template")["list"]]


def storage_ids(api: TranscodeClient) -> list[str]:
    return [row["storage_id"] for row in api.call("GET", "/api/list_storage")["list"]]


# Storages -----------------------------------------------------------------------------------


def test_storage_added_through_the_form_is_listed(
    page: Any, api: TranscodeClient, s3: Any, snap: Snap
) -> None:
    page.goto(f"{UI}/storages")
    form = page.locator("#add-storage form")
    for name in ("type", "region", "bucket", "prefix", "storage_ak", "storage_sk", "notify"):
        expect(form.locator(f'[name="{name}"]')).to_be_visible()
    expect(form.get_by_role("button", name="Add storage")).to_be_visible()
    snap(page, "storages-form")

    secret = "typed-secret-4321"
    fill(
        form,
        {
            "type": "s3",
            "region": "cn-hz",
            "bucket": "crud-out",
            "prefix": "videos/",
            "storage_ak": "AK-typed-in",
            "storage_sk": secret,
            "notify": "http://127.0.0.1:9/hook",
        },
    )
    assert submit(page, form, "Add storage").status == 303

    [made] = api.call("GET", "/api/list_storage")["list"]
    expect(page.locator(".notice")).to_have_text(f"Storage {made['storage_id']} added.")
    row = page.locator(f'tr[data-storage-id="{made["storage_id"]}"]')
    expect(row).to_contain_text("crud-out")
    expect(row).to_contain_text("set / set")
    assert (made["bucket"], made["prefix"], made["region"]) == ("crud-out", "videos", "cn-hz")
    assert s3.bucket_exists("crud-out")
    assert secret not in page.content()


def test_storage_is_deleted_from_its_row(page: Any, api: TranscodeClient) -> None:
    kept = api.add_storage("cn-hz", "s3", "kept").storage_id
    gone = api.add_storage("cn-hz", "s3", "gone").storage_id
    page.goto(f"{UI}/storages")
    row = page.locator(f'tr[data-storage-id="{gone}"]')
    assert submit(page, row, "Delete").status == 303
    expect(page.locator(".notice")).to_have_text(f"Storage {gone} deleted.")
    expect(row).to_have_count(0)
    expect(page.locator(f'tr[data-storage-id="{kept}"]')).to_be_visible()
    assert storage_ids(api) == [kept]


def test_storage_form_error_shows_the_api_detail_and_keeps_no_key(
    page: Any, api: TranscodeClient
) -> None:
    params = {"type": "s3", "region": "cn-hz", "bucket": "Not_A_Bucket"}
    expected = api_error(lambda: api.call("POST", "/api/add_storage", params))
    page.goto(f"{UI}/storages")
    form = page.locator("#add-storage form")
    fill(form, {**params, "storage_ak": "AK-typed-in", "storage_sk": "typed-secret-4321"})
    assert submit(page, form, "Add storage").status == 400

    error = page.locator("#add-storage .form-error")
    expect(error).to_have_attribute("data-code", str(expected.code))
    expect(error.locator(".detail")).to_have_text(expected.detail)
    expect(form.locator('[name="bucket"]')).to_have_value("Not_A_Bucket")
    expect(form.locator('[name="region"]')).to_have_value("cn-hz")
    expect(form.locator('[name="storage_ak"]')).to_have_value("")
    expect(form.locator('[name="storage_sk"]')).to_have_value("")
    assert "typed-secret-4321" not in page.content()
    assert "AK-typed-in" not in page.content()
    assert storage_ids(api) == []


# Templates ----------------------------------------------------------------------------------


def test_api_template_added_through_the_form_is_usable(
    page: Any, api: TranscodeClient, emulator: EmulatorServer, snap: Snap
) -> None:
    page.goto(f"{UI}/templates")
    for generation in ("api", "v1"):
        section = page.locator(f'[data-generation="{generation}"]')
        expect(section.locator('textarea[name="more_fields"]')).to_be_visible()
        expect(section.locator('[name="resolution"]')).to_be_visible()
    expect(page.locator('[data-generation="v1"] select[name="format"]')).to_contain_text("dash")
    expect(page.locator('[data-generation="api"] select[name="format"]')).not_to_contain_text(
        "dash"
    )
    expect(page.locator('tr[data-template="480p"]')).to_be_visible()
    snap(page, "templates-form")

    form = page.locator('[data-generation="api"] form')
    fill(
        form,
        {
            "name": "crud-api",
            "format": "hls",
            "resolution": "640x360",
            "quality": "6",
            "more_fields": '{"logo_offset": "10:10"}',
        },
    )
    assert submit(page, form, "Add /api template").status == 303
    expect(page.locator(".notice")).to_have_text("Template crud-api added.")
    expect(page.locator('tr[data-template="crud-api"]')).to_contain_text("640x360")

    shown = api.call("GET", "/api/query_template", {"name": "crud-api"})
    assert (shown["format"], shown["resolution"], shown["quality"]) == ("hls", "640x360", 6)
    assert shown["logo_offset"] == "10:10"
    with emulator.app.state.ctx.db.read() as session:
        spec = templates.parse(templates.get(session=session, name="crud-api"))
    assert spec.format == "hls"


def test_v1_template_added_through_the_form_matches_the_v1_api(
    page: Any, v1: TranscodeClientV1, emulator: EmulatorServer
) -> None:
    more = '{"gop_size": 48, "adaptive_streams": [{"resolution": "360p"}, {"resolution": "240p"}]}'
    page.goto(f"{UI}/templates")
    form = page.locator('[data-generation="v1"] form')
    # framerate 0: v1 reads a zero as "not given", as the Go SDK's zero values.
    values = {"format": "dash", "quality": "6.5", "framerate": "0", "more_fields": more}
    fill(form, {"template_name": "crud-v1", **values})
    assert submit(page, form, "Add /vodencoding/v1 template").status == 303
    expect(page.locator('tr[data-template="crud-v1"]')).to_contain_text("dash")

    v1.add_template(
        "by-v1-api",
        format="dash",
        quality=6.5,
        framerate=0,
        gop_size=48,
        adaptive_streams=[{"resolution": "360p"}, {"resolution": "240p"}],
    )
    by_form, by_api = v1.query_template("crud-v1"), v1.query_template("by-v1-api")
    different = {"template_name", "template_id", "created_at"}
    assert {k: v for k, v in by_form.items() if k not in different} == {
        k: v for k, v in by_api.items() if k not in different
    }
    with emulator.app.state.ctx.db.read() as session:
        stored = templates.get(session=session, name="crud-v1")
        spec = templates.parse(stored)
    assert stored.extra["gop_size"] == 48
    assert len(spec.renditions) == 2


@pytest.mark.parametrize(
    ("generation", "params", "button"),
    [
        pytest.param("api", {"name": "bad", "resolution": "8x8"}, "Add /api template", id="api"),
        pytest.param(
            "v1",
            {"template_name": "bad", "more_fields": '{"seg_time": 99}'},
            "Add /vodencoding/v1 template",
            id="v1",
        ),
    ],
)
def test_invalid_template_shows_the_api_detail_inline(
    page: Any,
    api: TranscodeClient,
    v1: TranscodeClientV1,
    snap: Snap,
    generation: str,
    params: dict[str, str],
    button: str,
) -> None:
    if generation == "api":
        expected = api_error(lambda: api.call("POST", "/api/add_template", params))
    else:
        expected = api_error(lambda: v1.add_template("bad", seg_time=99))
    page.goto(f"{UI}/templates")
    form = page.locator(f'[data-generation="{generation}"] form')
    fill(form, params)
    assert submit(page, form, button).status == 400

    error = page.locator(f'[data-generation="{generation}"] .form-error')
    expect(error).to_have_attribute("data-code", "1002")
    expect(error).to_contain_text("Bad param")
    expect(error.locator(".detail")).to_have_text(expected.detail)
    for name, value in params.items():
        expect(form.locator(f'[name="{name}"]')).to_have_value(value)
    expect(page.locator(".form-error")).to_have_count(1)
    assert "bad" not in template_names(api)
    snap(page, f"templates-error-{generation}")


def test_api_template_is_updated_through_the_form(page: Any, api: TranscodeClient) -> None:
    api.call("POST", "/api/add_template", {"name": "to-update", "format": "hls"})
    page.goto(f"{UI}/templates")
    form = page.locator('[data-generation="api"] form')
    fill(form, {"name": "to-update", "quality": "8"})
    assert submit(page, form, "Update /api template").status == 303
    expect(page.locator(".notice")).to_have_text("Template to-update updated.")
    quality = page.locator('tr[data-template="to-update"] td').nth(4)
    expect(quality).to_have_text("8")
    shown = api.call("GET", "/api/query_template", {"name": "to-update"})
    assert (shown["quality"], shown["format"]) == (8, "hls")


def test_v1_template_update_leaves_zero_fields_as_they_are(
    page: Any, v1: TranscodeClientV1
) -> None:
    v1.add_template("v1-update", framerate=30, gop_size=48)
    page.goto(f"{UI}/templates")
    form = page.locator('[data-generation="v1"] form')
    fill(form, {"template_name": "v1-update", "framerate": "0", "more_fields": '{"gop_size": 24}'})
    assert submit(page, form, "Update /vodencoding/v1 template").status == 303
    shown = v1.query_template("v1-update")
    assert (shown["framerate"], shown["gop_size"]) == (30, 24)


def test_builtin_template_update_shows_the_service_error(page: Any, api: TranscodeClient) -> None:
    params = {"name": "480p", "quality": 8}
    expected = api_error(lambda: api.call("PUT", "/api/update_template", params))
    page.goto(f"{UI}/templates")
    form = page.locator('[data-generation="api"] form')
    fill(form, {"name": "480p", "quality": "8"})
    assert submit(page, form, "Update /api template").status == 409
    error = page.locator('[data-generation="api"] .form-error')
    expect(error).to_have_attribute("data-code", "1005")
    expect(error.locator(".detail")).to_have_text(expected.detail)
    assert api.call("GET", "/api/query_template", {"name": "480p"})["quality"] == 5


@pytest.mark.parametrize(
    ("more", "detail"),
    [
        ("[1]", "more fields: JSON body must be an object of parameters"),
        ('{"name": "twice"}', "more fields: name also given in the form above"),
    ],
)
def test_more_fields_that_are_not_an_object_of_new_fields_are_refused(
    emulator: EmulatorServer, api: TranscodeClient, more: str, detail: str
) -> None:
    form = {"generation": "api", "name": "t", MORE: more}
    response = httpx.post(f"{emulator.base_url}{UI}/templates", data=form, timeout=30)
    assert response.status_code == 400
    assert detail in response.text
    assert "t" not in template_names(api)


def test_custom_template_is_deleted_from_its_row(page: Any, api: TranscodeClient) -> None:
    name = "old/../clip #1?x=%"  # a browser would rewrite it in a URL's path
    api.call("POST", "/api/add_template", {"name": name})
    api.call("POST", "/api/add_template", {"name": "kept"})
    page.goto(f"{UI}/templates")
    row = page.locator(f'tr[data-template="{name}"]')
    assert submit(page, row, "Delete").status == 303
    expect(page.locator(".notice")).to_have_text(f"Template {name} deleted.")
    expect(row).to_have_count(0)
    assert name not in template_names(api)
    assert "kept" in template_names(api)


def test_builtin_template_delete_shows_the_service_error(page: Any, api: TranscodeClient) -> None:
    expected = api_error(lambda: api.call("DELETE", "/api/del_template", {"name": "480p"}))
    page.goto(f"{UI}/templates")
    assert submit(page, page.locator('tr[data-template="480p"]'), "Delete").status == 409
    error = page.locator(".form-error")
    expect(error).to_have_attribute("data-code", "1005")
    expect(error.locator(".detail")).to_have_text(expected.detail)
    expect(page.locator('tr[data-template="480p"]')).to_be_visible()
    assert "480p" in template_names(api)


# Cross-site posts ---------------------------------------------------------------------------


def post_from_elsewhere(emulator: EmulatorServer, path: str, form: dict[str, str]) -> None:
    response = httpx.post(
        f"{emulator.base_url}{UI}{path}", data=form, headers={"Origin": EVIL}, timeout=30
    )
    assert response.status_code == 403, response.text
    assert "cross-site" in response.json()["detail"]


def test_cross_site_storage_add_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient
) -> None:
    post_from_elsewhere(emulator, "/storages", {"type": "s3", "region": "cn-hz", "bucket": "evil"})
    assert storage_ids(api) == []


def test_cross_site_storage_delete_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient
) -> None:
    storage = api.add_storage("cn-hz", "s3", "out").storage_id
    post_from_elsewhere(emulator, f"/storages/{storage}/delete", {})
    assert storage_ids(api) == [storage]


@pytest.mark.parametrize("generation", ["api", "v1"])
def test_cross_site_template_add_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient, generation: str
) -> None:
    before = template_names(api)
    form = {"generation": generation, "name": "evil", "template_name": "evil"}
    post_from_elsewhere(emulator, "/templates", form)
    assert template_names(api) == before


def test_cross_site_template_update_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient
) -> None:
    api.call("POST", "/api/add_template", {"name": "mine"})
    before = api.call("GET", "/api/query_template", {"name": "mine"})
    post_from_elsewhere(
        emulator, "/templates/update", {"generation": "api", "name": "mine", "quality": "9"}
    )
    assert api.call("GET", "/api/query_template", {"name": "mine"}) == before


def test_cross_site_template_delete_changes_nothing(
    emulator: EmulatorServer, api: TranscodeClient
) -> None:
    api.call("POST", "/api/add_template", {"name": "mine"})
    before = template_names(api)
    post_from_elsewhere(emulator, "/templates/delete", {"name": "mine"})
    assert template_names(api) == before


# Without the control token ------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """An emulator whose control surface needs EMULATOR_CONTROL_TOKEN."""
    data_dir = tmp_path_factory.mktemp("locked")
    settings = make_settings(data_dir, worker_concurrency=0, control_token="crud-token")
    with EmulatorServer(settings) as server:
        yield server


def test_forms_without_the_control_token_change_nothing(locked: EmulatorServer) -> None:
    s = locked.settings
    with TranscodeClient(locked.base_url, s.access_key_id, s.access_key_secret) as client:
        storage = client.add_storage("cn-hz", "s3", "out").storage_id
        client.call("POST", "/api/add_template", {"name": "mine"})
        before = (storage_ids(client), client.call("GET", "/api/list_template"))
        forms = {
            "/storages": {"type": "s3", "region": "cn-hz", "bucket": "other"},
            f"/storages/{storage}/delete": {},
            "/templates": {"generation": "api", "name": "new"},
            "/templates/update": {"generation": "api", "name": "mine", "quality": "9"},
            "/templates/delete": {"name": "mine"},
        }
        for path, form in forms.items():
            response = httpx.post(f"{locked.base_url}{UI}{path}", data=form, timeout=30)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith(f"{UI}/login?next="), path
        assert (storage_ids(client), client.call("GET", "/api/list_template")) == before
