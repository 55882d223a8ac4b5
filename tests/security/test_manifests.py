"""Manifest inputs never make ffmpeg read local files or other URLs (README, Security).

An HLS playlist or DASH manifest names further resources that ffmpeg would open itself,
outside the emulator's address rules: a `file://` path on the emulator's machine, or a loopback
URL. Each is given as a task input, from S3 and over http, under a name with and without the
usual extension: the task fails with 2002 and nothing of the referenced file reaches an output.
"""

from __future__ import annotations

import functools
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from emulator.client import TranscodeClient
from emulator.errors import INPUT_NOT_VIDEO, LOGO_FETCH_FAILED, TaskFailed
from emulator.transcode import demuxers
from emulator.transcode.clips import make_clip, make_logo
from emulator.transcode.probe import probe
from tests.conftest import wait_for

MARKER = b"SECRET-MARKER-7f3a9c"
OUTPUT_BUCKET = "out"


@pytest.fixture(scope="module")
def emulator_settings() -> dict[str, Any]:
    return {"worker_concurrency": 2, "encoder_preset": "ultrafast"}


@dataclass
class Origin:
    """A loopback http server over `root`, recording every path asked for."""

    url: str
    root: Path
    requested: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny video in both containers a manifest names, the marker in their metadata:
    code that followed the reference would transcode it."""
    root = tmp_path_factory.mktemp("secret")
    plain = make_clip(tmp_path_factory.mktemp("plain") / "plain.mp4", audio=False)
    marker = MARKER.decode()
    for name, tag in (("secret.mp4", "title"), ("secret.ts", "service_name")):
        copy = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(plain), "-c", "copy"]
        subprocess.run([*copy, "-metadata", f"{tag}={marker}", str(root / name)], check=True)
        assert MARKER in (root / name).read_bytes()
    return root


@pytest.fixture(scope="module")
def origin(secrets: Path) -> Iterator[Origin]:
    served = Origin(url="", root=secrets)

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            served.requested.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=secrets))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield served
    server.shutdown()
    server.server_close()


def hls_playlist(segment: str) -> str:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n"
    )


def dash_manifest(base_url: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1S"
     minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
 <Period>
  <AdaptationSet mimeType="video/mp4">
   <Representation id="v" bandwidth="100000" width="160" height="120" codecs="avc1.42c00d">
    <BaseURL>{base_url}</BaseURL>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>
"""


def manifest(kind: str, reference: str, secrets: Path, origin: Origin) -> str:
    name = "secret.ts" if kind == "hls" else "secret.mp4"
    target = (secrets / name).as_uri() if reference == "file" else f"{origin.url}/{name}"
    return hls_playlist(target) if kind == "hls" else dash_manifest(target)


def output_objects(s3: Any) -> dict[str, bytes]:
    client = s3._client
    listed = client.list_objects_v2(Bucket=OUTPUT_BUCKET).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=OUTPUT_BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


@pytest.mark.parametrize("named", ["with-extension", "without-extension"])
@pytest.mark.parametrize("transport", ["s3", "http"])
@pytest.mark.parametrize("reference", ["file", "loopback"])
@pytest.mark.parametrize("kind", ["hls", "dash"])
def test_manifest_input_fails_2002_and_reads_nothing(
    api: TranscodeClient,
    storage_id: str,
    s3: Any,
    secrets: Path,
    origin: Origin,
    tmp_path: Path,
    kind: str,
    reference: str,
    transport: str,
    named: str,
) -> None:
    suffix = {"hls": ".m3u8", "dash": ".mpd"}[kind] if named == "with-extension" else ""
    name = f"evil-{kind}-{reference}{suffix}"
    text = manifest(kind, reference, secrets, origin)
    if transport == "s3":
        path = tmp_path / name
        path.write_text(text)
        s3.ensure_bucket("inputs")
        s3.upload_file(path, "inputs", name)
        url = f"s3://inputs/{name}"
    else:
        (secrets / name).write_text(text)
        url = f"{origin.url}/{name}"
    origin.requested.clear()
    params = {"template_name": "480p", "input": url, "output": "o/v.mp4", "storage_id": storage_id}
    data = wait_for(api, api.call("POST", "/api/create_task", params)["task_id"])

    assert (data["status"], data["err_code"]) == ("fail", INPUT_NOT_VIDEO), data
    assert "manifest inputs are not supported" in data["err_msg"]
    assert not any(MARKER in body for body in output_objects(s3).values())
    assert output_objects(s3) == {}
    assert not any("secret" in path for path in origin.requested), origin.requested


def test_manifest_logo_is_refused(
    api: TranscodeClient, storage_id: str, s3: Any, clip_url: str, secrets: Path, tmp_path: Path
) -> None:
    # A logo is read by the encoding ffmpeg itself (no probe): refused by the same whitelist.
    playlist = tmp_path / "logo.m3u8"
    playlist.write_text(hls_playlist((secrets / "secret.ts").as_uri()))
    s3.upload_file(playlist, "inputs", "logo.m3u8")
    api.call(
        "POST", "/api/add_template", {"name": "evil-logo", "logo_path": "s3://inputs/logo.m3u8"}
    )
    params = {"template_name": "evil-logo", "input": clip_url, "output": "o/v.mp4"}
    task_id = api.call("POST", "/api/create_task", {**params, "storage_id": storage_id})["task_id"]
    data = wait_for(api, task_id)

    assert (data["status"], data["err_code"]) == ("fail", LOGO_FETCH_FAILED), data
    assert "manifest inputs are not supported" in data["err_msg"]
    assert output_objects(s3) == {}


# The whitelist still lets every self-contained container through (probed as a task's input).


@pytest.mark.parametrize(
    ("name", "vcodec"),
    [
        ("clip.mp4", "libx264"),
        ("clip.mov", "libx264"),
        ("clip.m4v", "libx264"),
        ("clip.3gp", "libx264"),
        ("clip.mkv", "libx264"),
        ("clip.webm", "libvpx"),
        ("clip.flv", "libx264"),
        ("clip.ts", "libx264"),
        ("clip.avi", "mpeg4"),
        ("clip.mpg", "mpeg2video"),
        ("clip.ogv", "libtheora"),
        ("clip.hevc.mp4", "libx265"),
    ],
)
def test_self_contained_containers_are_accepted(
    tmp_path_factory: pytest.TempPathFactory, name: str, vcodec: str
) -> None:
    source = make_clip(tmp_path_factory.mktemp("formats") / name, vcodec=vcodec, audio=False)
    # Saved without its suffix, as the worker saves every input.
    stored = source.rename(source.with_name("input"))
    assert probe(stored, formats=demuxers.INPUT_FORMATS).width == 160


def test_logo_images_are_accepted(tmp_path: Path) -> None:
    for name in ("logo.png", "logo.jpg"):
        logo = make_logo(tmp_path / name).rename(tmp_path / "logo")
        command = ["ffmpeg", "-nostdin", "-v", "error", *demuxers.input_args(), "-i", str(logo)]
        subprocess.run([*command, "-f", "null", "-"], check=True)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("hls", hls_playlist("/etc/hostname")),
        ("concat", "ffconcat version 1.0\nfile '/etc/hostname'\n"),
        ("dash", dash_manifest("file:///etc/hostname")),
    ],
)
def test_probe_refuses_demuxers_that_open_other_resources(
    tmp_path: Path, kind: str, text: str
) -> None:
    stored = tmp_path / "input"
    stored.write_text(text)

    with pytest.raises(TaskFailed) as caught:
        probe(stored, formats=demuxers.INPUT_FORMATS)

    assert caught.value.err_code == INPUT_NOT_VIDEO
    assert "manifest inputs are not supported" in caught.value.message
    assert kind in caught.value.message
