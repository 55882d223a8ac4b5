"""Template routes (SPEC.md section 4)."""

from __future__ import annotations

import re

import pytest

from emulator.client import TranscodeClient
from emulator.errors import BadParam, Duplicated, EmptyResult, LackParam, OperationFail

BUILTIN_480P = {
    "audio_bitrate": 64000,
    "description": "mp4,480p",
    "format": "mp4",
    "framerate": 25,
    "logo_offset": "",
    "logo_path": "",
    "logo_size": "",
    "name": "480p",
    "quality": 5,
    "resolution": "480p",
    "template_id": "builtin-480p",
    "template_type": "built-in",
    "vcodec": "h264",
    "acodec": "aac",
}
RFC1123 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def test_list_template_starts_with_builtins(api: TranscodeClient) -> None:
    data = api.call("GET", "/api/list_template")
    names = [t["name"] for t in data["list"]]
    assert names == ["480p", "720p", "1080p", "origin", "MP4_264_360p"]
    assert data["num"] == 5
    first = data["list"][0]
    assert {k: first[k] for k in BUILTIN_480P} == BUILTIN_480P
    assert data["list"][3]["create_time"] == "Sat, 08 Feb 2020 16:32:42 GMT"
    assert data["list"][4]["template_id"] == "builtin-MP4-264-360p"


def test_add_template_returns_stored_template_with_defaults(api: TranscodeClient) -> None:
    data = api.call("POST", "/api/add_template", {"name": "demo", "quality": "6"})
    assert data["name"] == "demo" and data["quality"] == 6
    assert (data["format"], data["framerate"], data["resolution"]) == ("mp4", 0, "")
    assert (data["vcodec"], data["acodec"], data["audio_bitrate"]) == ("h264", "aac", 64000)
    assert data["template_type"] == "custom" and re.fullmatch(r"[0-9a-f]{16}", data["template_id"])
    assert RFC1123.match(data["create_time"])


def test_custom_templates_follow_builtins_in_creation_order(api: TranscodeClient) -> None:
    for name in ("b", "a", "c"):
        api.call("POST", "/api/add_template", {"name": name})
    names = [t["name"] for t in api.call("GET", "/api/list_template")["list"]]
    assert names[5:] == ["b", "a", "c"]


def test_acc_is_stored_as_aac(api: TranscodeClient) -> None:
    assert api.call("POST", "/api/add_template", {"name": "x", "acodec": "acc"})["acodec"] == "aac"


def test_query_template(api: TranscodeClient) -> None:
    api.call("POST", "/api/add_template", {"name": "q", "format": "hls", "resolution": "1280x720"})
    data = api.call("GET", "/api/query_template", {"name": "q"})
    assert (data["format"], data["resolution"]) == ("hls", "1280x720")
    with pytest.raises(EmptyResult):
        api.call("GET", "/api/query_template", {"name": "nope"})


def test_update_changes_only_given_fields(api: TranscodeClient) -> None:
    api.call("POST", "/api/add_template", {"name": "u", "quality": 7, "framerate": 30})
    data = api.call("PUT", "/api/update_template", {"name": "u", "framerate": 24})
    assert (data["quality"], data["framerate"]) == (7, 24)
    with pytest.raises(EmptyResult):
        api.call("PUT", "/api/update_template", {"name": "nope", "quality": 1})


def test_builtin_templates_cannot_change(api: TranscodeClient) -> None:
    with pytest.raises(OperationFail, match="built-in"):
        api.call("PUT", "/api/update_template", {"name": "480p", "quality": 1})
    with pytest.raises(OperationFail, match="built-in"):
        api.call("DELETE", "/api/del_template", {"name": "origin"})


def test_duplicate_names_including_builtins(api: TranscodeClient) -> None:
    api.call("POST", "/api/add_template", {"name": "dup"})
    with pytest.raises(Duplicated):
        api.call("POST", "/api/add_template", {"name": "dup"})
    with pytest.raises(Duplicated):
        api.call("POST", "/api/add_template", {"name": "720p"})


def test_del_template(api: TranscodeClient) -> None:
    api.call("POST", "/api/add_template", {"name": "gone"})
    assert api.call("DELETE", "/api/del_template", {"name": "gone"}) is None
    with pytest.raises(EmptyResult):
        api.call("DELETE", "/api/del_template", {"name": "gone"})


def test_name_is_required(api: TranscodeClient) -> None:
    with pytest.raises(LackParam, match="name"):
        api.call("POST", "/api/add_template", {"quality": 5})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", "avi"),
        ("quality", 0),
        ("quality", 11),
        ("quality", "high"),
        ("framerate", 121),
        ("framerate", -1),
        ("resolution", "720"),
        ("resolution", "721p"),
        ("resolution", "99x100"),
        ("vcodec", "vp9"),
        ("acodec", "mp3"),
        ("audio_bitrate", 10),
        ("logo_path", "file:///x.png"),
        ("logo_size", "big"),
        ("logo_offset", "1,2"),
        ("name", "n" * 65),
        ("quality", 10**30),
    ],
)
def test_bad_template_values(api: TranscodeClient, field: str, value: object) -> None:
    params = {"name": "bad", field: value}
    with pytest.raises(BadParam, match=field):
        api.call("POST", "/api/add_template", params)


@pytest.mark.parametrize("resolution", ["", "0", "360p", "1080p", "2160p", "640x360"])
def test_good_resolutions(api: TranscodeClient, resolution: str) -> None:
    data = api.call("POST", "/api/add_template", {"name": "r", "resolution": resolution})
    assert data["resolution"] == resolution
