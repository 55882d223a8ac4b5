"""v1 templates: every field, zero values as "not given", and the same store seen through /api/."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.client_v1 import TranscodeClientV1
from emulator.errors import BadParam, Duplicated, EmptyResult, LackParam, OperationFail

# A template the /api/ generation cannot express: dash, fractional quality, v1-only fields.
RICH: dict[str, Any] = {
    "description": "ladder",
    "format": "dash",
    "vcodec": "h265",
    "quality": 7.4,
    "resolution": "1280x720",
    "framerate": 30,
    "video_bitrate": 2500,
    "gop_size": 60,
    "gop_seconds": 2,
    "seg_type": "fmp4",
    "seg_time": 6,
    "audio_bitrate": 128,
    "audio_sample_rate": "48k",
    "audio_channels": 2,
    "logo_path": "https://example.com/logo.png",
    "logo_size": "64x64",
    "logo_offset": "x=(W-w)/2:y=(H-h)/2",
    "adaptive_streams": [
        {"vcodec": "h264", "resolution": "360p", "video_bitrate": 600, "audio_bitrate": 64},
        {"resolution": "720p", "quality": 8.5},
    ],
    "encryption": {
        "provider": "emulator",
        "mode": "aes-128",
        "key_url": "https://keys.example.com/k",
        "http_method": "post",
        "headers": {"X-Token": "t"},
        "drm_systems": ["widevine"],
    },
    "thumbnail": {"start_point": 1, "interval": 5, "number": 3, "width": 160, "height": 90},
}


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 0}


def test_every_v1_field_round_trips(v1: TranscodeClientV1) -> None:
    added = v1.add_template("rich", **RICH)
    queried = v1.query_template("rich")
    assert added == queried
    assert (
        queried
        | {
            **RICH,
            "template_name": "rich",
            "audio_bitrate": 128000,
            "adaptive_streams": [
                {
                    "vcodec": "h264",
                    "resolution": "360p",
                    "video_bitrate": 600,
                    "audio_bitrate": 64000,
                },
                {"resolution": "720p", "quality": 8.5},
            ],
            "encryption": {**RICH["encryption"], "http_method": "POST"},
            "acodec": "aac",
            "built_in": False,
        }
        == queried
    )
    assert isinstance(queried["created_at"], int)


def test_v1_only_template_through_api(v1: TranscodeClientV1, api: TranscodeClient) -> None:
    v1.add_template("rich", **RICH)
    seen = api.call("GET", "/api/query_template", {"name": "rich"})
    assert (
        seen
        | {
            "name": "rich",
            "format": "dash",
            "quality": 7,
            "resolution": "1280x720",
            "audio_bitrate": 128000,
            "template_type": "custom",
            "video_bitrate": 2500,
            "seg_type": "fmp4",
            "adaptive_streams": v1.query_template("rich")["adaptive_streams"],
            "thumbnail": RICH["thumbnail"],
        }
        == seen
    )
    assert seen["create_time"].endswith(" GMT")
    listed = api.call("GET", "/api/list_template")["list"]
    assert listed[-1] == seen


def test_api_create_task_accepts_a_v1_only_template(
    v1: TranscodeClientV1, api: TranscodeClient
) -> None:
    v1.add_template("rich", **RICH)
    storage_id = v1.add_storage(region="r", type="s3", bucket="out")
    params = {"template_name": "rich", "input": "http://h/x.mp4", "output": "o.mpd"}
    task_id = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})["task_id"]
    assert api.call("GET", "/api/query_task", {"task_id": task_id})["template_name"] == "rich"
    assert v1.query_task(task_id)["format"] == "dash"


def test_api_template_through_v1(v1: TranscodeClientV1, api: TranscodeClient) -> None:
    api.call("POST", "/api/add_template", {"name": "old", "quality": 3, "acodec": "acc"})
    seen = v1.query_template("old")
    assert (
        seen
        | {
            "template_name": "old",
            "quality": 3.0,
            "acodec": "aac",
            "video_bitrate": 0,
            "seg_type": "",
            "adaptive_streams": None,
            "encryption": None,
            "thumbnail": None,
            "built_in": False,
        }
        == seen
    )


def test_name_is_accepted_for_template_name(v1: TranscodeClientV1) -> None:
    v1.call("POST", "add_template", {"name": "aliased", "format": "flv"})
    assert v1.call("GET", "query_template", {"name": "aliased"})["format"] == "flv"
    v1.call("DELETE", "del_template", {"name": "aliased"})
    with pytest.raises(EmptyResult):
        v1.query_template("aliased")


@pytest.mark.parametrize(("given", "stored"), [(32, 32000), (512, 512000), (96000, 96000)])
def test_audio_bitrate_under_1000_is_kbits(v1: TranscodeClientV1, given: int, stored: int) -> None:
    assert v1.add_template("a", audio_bitrate=given)["audio_bitrate"] == stored


def test_update_changes_given_fields_and_ignores_zero_values(
    v1: TranscodeClientV1, api: TranscodeClient
) -> None:
    v1.add_template("u", **RICH)
    data = v1.update_template(
        "u", quality=9.25, resolution="", framerate=0, adaptive_streams=[], encryption=None
    )
    assert (
        data
        | {
            "quality": 9.25,
            "resolution": "1280x720",
            "framerate": 30,
            "adaptive_streams": v1.query_template("u")["adaptive_streams"],
            "encryption": {**RICH["encryption"], "http_method": "POST"},
        }
        == data
    )
    # A v1 client resets a field to "keep source" through /api/update_template.
    api.call("PUT", "/api/update_template", {"name": "u", "resolution": "", "framerate": 0})
    after = v1.query_template("u")
    assert (after["resolution"], after["framerate"], after["quality"]) == ("", 0, 9.25)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", "webm"),
        ("vcodec", "vp9"),
        ("quality", 10.5),
        ("quality", 0.5),
        ("resolution", "721p"),
        ("framerate", 121),
        ("video_bitrate", 300_000),
        ("seg_type", "cmaf"),
        ("audio_bitrate", 600_000),
        ("audio_sample_rate", "47k"),
        ("audio_channels", 9),
        ("logo_offset", "x=1;y=2"),
        ("logo_offset", "z=1:y=2"),
        ("logo_path", "ftp://host/logo.png"),
        ("adaptive_streams", [{"vcodec": ""}]),
        ("adaptive_streams", [{"resolution": "1x1"}]),
        ("adaptive_streams", [{"resolution": "360p"}] * 11),
        ("encryption", {"key_url": "file:///etc/passwd"}),
        ("encryption", {"http_method": "DELETE"}),
        ("thumbnail", {"number": -1}),
    ],
)
def test_invalid_field_is_1002_naming_it(
    v1_static: TranscodeClientV1, field: str, value: Any
) -> None:
    with pytest.raises(BadParam, match=field):
        v1_static.add_template("bad", **{field: value})


@pytest.mark.parametrize("offset", ["10:20", "W-w-10:H-h-10", "x=(W-w)/2:y=(H-h)/2", "y=5"])
def test_logo_offset_expressions_are_accepted(v1: TranscodeClientV1, offset: str) -> None:
    assert v1.add_template("logo", logo_offset=offset)["logo_offset"] == offset


def test_template_name_is_required(v1_static: TranscodeClientV1) -> None:
    with pytest.raises(LackParam, match="template_name"):
        v1_static.call("POST", "add_template", {"template_name": "", "format": "mp4"})


def test_entity_rules_are_the_api_ones(v1: TranscodeClientV1) -> None:
    with pytest.raises(Duplicated):
        v1.add_template("720p")
    with pytest.raises(OperationFail):
        v1.update_template("720p", quality=6)
    with pytest.raises(OperationFail):
        v1.del_template("origin")
    with pytest.raises(EmptyResult):
        v1.update_template("missing", quality=6)


def test_list_template_in_v1_shape(v1: TranscodeClientV1) -> None:
    v1.add_template("mine", format="hls", seg_time=2)
    rows = v1.list_template()
    assert [r["built_in"] for r in rows] == [True] * 5 + [False]
    assert rows[-1]["template_name"] == "mine" and rows[-1]["seg_time"] == 2
