"""create_task `output`: a key, or a URL of the storage's own bucket; anything else is 1002."""

from __future__ import annotations

import pytest

from emulator.client import TranscodeClient

GENERATIONS = ["/api", "/vodencoding/v1"]


@pytest.fixture
def prefixed_storage(api: TranscodeClient) -> str:
    params = {"region": "r", "type": "s3", "bucket": "out", "prefix": "p"}
    storage_id: str = api.call("POST", "/api/add_storage", params)["storage_id"]
    return storage_id


def create(api: TranscodeClient, generation: str, storage_id: str, output: str) -> dict:
    params = {"template_name": "480p", "input": "s3://in/a.mp4", "output": output}
    envelope: dict = api.request(
        "POST", f"{generation}/create_task", {**params, "storage_id": storage_id}
    ).json()
    return envelope


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize(
    "output",
    [
        "s3://other-bucket/x.mp4",
        "oss://other-bucket/x.mp4",
        "http://example.com/x.mp4",
        "https://out/x.mp4",
        "ftp://out/x.mp4",
    ],
)
def test_output_url_outside_the_storage_bucket_is_1002(
    api: TranscodeClient, prefixed_storage: str, generation: str, output: str
) -> None:
    envelope = create(api, generation, prefixed_storage, output)
    assert envelope["code"] == 1002, envelope
    assert "output" in envelope["detail"], envelope


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize(
    ("output", "objkey"),
    [
        ("s3://out/abs/o.mp4", "abs/o.mp4"),
        ("oss://out/abs/o.mp4", "abs/o.mp4"),
        ("k.mp4", "p/k.mp4"),
    ],
)
def test_output_url_of_the_storage_bucket_is_taken_without_the_prefix(
    api: TranscodeClient, prefixed_storage: str, generation: str, output: str, objkey: str
) -> None:
    envelope = create(api, generation, prefixed_storage, output)
    assert envelope["code"] == 0, envelope
    task_id = envelope["data"]["task_id"]
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["objkey"] == objkey
