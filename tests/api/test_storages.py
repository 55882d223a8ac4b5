"""Storage routes: shapes of the reference's examples and every error they can return."""

from __future__ import annotations

import pytest

from emulator.client import TranscodeClient
from emulator.errors import BadParam, Duplicated, EmptyResult, LackParam


def add(api: TranscodeClient, **over: str) -> str:
    params = {"region": "cn-hz", "type": "s3", "bucket": "bbbbb", **over}
    return api.call("POST", "/api/add_storage", params)["storage_id"]


def test_add_and_list_storage(api: TranscodeClient) -> None:
    storage_id = add(api, storage_ak="AK", storage_sk="SECRET-SK")
    assert len(storage_id) == 16 and int(storage_id, 16) >= 0
    data = api.call("GET", "/api/list_storage")
    assert data["num"] == 1
    (item,) = data["list"]
    assert {k: item[k] for k in ("bucket", "prefix", "region", "storage_id", "type")} == {
        "bucket": "bbbbb",
        "prefix": "",
        "region": "cn-hz",
        "storage_id": storage_id,
        "type": "s3",
    }
    assert "storage_sk" not in item and "storage_ak" not in item


def test_empty_list_is_success(api: TranscodeClient) -> None:
    assert api.call("GET", "/api/list_storage") == {"list": [], "num": 0}


def test_oss_type_is_accepted(api: TranscodeClient) -> None:
    add(api, type="oss", bucket="oss-bucket")


@pytest.mark.parametrize("missing", ["region", "type", "bucket"])
def test_missing_required_is_lack_param(api: TranscodeClient, missing: str) -> None:
    params = {"region": "r", "type": "s3", "bucket": "bkt"}
    params[missing] = ""
    with pytest.raises(LackParam, match=missing):
        api.call("POST", "/api/add_storage", params)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "gcs"),
        ("bucket", "Bad_Bucket"),
        ("bucket", "ab"),
        ("bucket", "192.168.1.1"),
        ("prefix", "../up"),
        ("region", 5),
    ],
)
def test_bad_values_are_bad_param(api: TranscodeClient, field: str, value: object) -> None:
    params: dict[str, object] = {"region": "r", "type": "s3", "bucket": "bkt", field: value}
    with pytest.raises(BadParam, match=field):
        api.call("POST", "/api/add_storage", params)


def test_duplicate_storage(api: TranscodeClient) -> None:
    add(api)
    with pytest.raises(Duplicated):
        add(api)
    add(api, prefix="other")  # another prefix is another storage


def test_del_storage(api: TranscodeClient) -> None:
    storage_id = add(api)
    assert api.call("DELETE", "/api/del_storage", {"storage_id": storage_id}) is None
    assert api.call("GET", "/api/list_storage")["num"] == 0
    with pytest.raises(EmptyResult, match=storage_id):
        api.call("DELETE", "/api/del_storage", {"storage_id": storage_id})


def test_del_storage_from_query_when_body_is_empty(api: TranscodeClient) -> None:
    storage_id = add(api)
    response = api.request("DELETE", "/api/del_storage")  # signed, no body
    assert response.json()["code"] == 1001
    from emulator import signing

    headers = signing.sign_request(
        method="DELETE",
        path="/api/del_storage",
        query={"storage_id": storage_id},
        access_key_id=api.access_key_id,
        access_key_secret=api.access_key_secret,
    )
    response = api.http.delete(
        "/api/del_storage", params={"storage_id": storage_id}, headers=headers
    )
    assert response.json()["code"] == 0
