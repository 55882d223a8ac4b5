"""`python -m emulator.demo`: storage, templates and an mp4, hls and flv task on a generated clip.

The compose file's one-shot `demo` service (README, "Docker and compose"). It talks to a
running emulator only through the signed vendor API and S3, as any client would, and is safe
to run again on the same data: existing storage and templates are reused.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from emulator.clients.api import TranscodeClient
from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.errors import ApiError, Duplicated
from emulator.storage.store import ObjectStore, ObjectStoreError

FORMATS = ("mp4", "hls", "flv")
STORAGE = {"region": "cn-demo", "type": "s3", "bucket": "demo-outputs", "prefix": "demo"}
INPUT_BUCKET = "demo-inputs"
# The format is a template field, so each output format gets its own custom template.
TEMPLATE_FIELDS: dict[str, Any] = {
    "description": "transcode-emulator demo",
    "quality": 6,
    "resolution": "180p",
    "framerate": 15,
    "audio_bitrate": 64000,
}
FINAL = ("success", "fail")


class DemoSettings(BaseSettings):
    """Where the emulator is, from EMULATOR_* variables (the compose file sets them)."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    url: str = "http://127.0.0.1:8080"
    s3_url: str = "http://127.0.0.1:9000"
    access_key_id: str = DEV_ACCESS_KEY_ID
    access_key_secret: str = DEV_ACCESS_KEY_SECRET
    demo_timeout_s: float = Field(180.0, gt=0)


class DemoFailed(Exception):
    """A step of the demo did not work; the message says which and why."""


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m emulator.demo",
        description="Run the demo against a running emulator; exit 0 if all three tasks succeed.",
        epilog="Settings (environment): EMULATOR_URL (default http://127.0.0.1:8080), "
        "EMULATOR_S3_URL (default http://127.0.0.1:9000), EMULATOR_ACCESS_KEY_ID and "
        "EMULATOR_ACCESS_KEY_SECRET (default: the development pair), EMULATOR_DEMO_TIMEOUT_S "
        "(default 180).",
    ).parse_args(argv)
    settings = DemoSettings()
    try:
        results = run(settings)
    except (DemoFailed, ApiError, ObjectStoreError, httpx.HTTPError, RuntimeError) as exc:
        print(f"demo: failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    for fmt in FORMATS:
        data = results[fmt]
        where = data["output_url"] or f"err_code {data['err_code']}: {data['err_msg']}"
        print(f"{fmt:<4} {data['status']:<8} {where}", flush=True)
    succeeded = all(results[fmt]["status"] == "success" for fmt in FORMATS)
    print("demo: all three tasks succeeded" if succeeded else "demo: some tasks failed", flush=True)
    return 0 if succeeded else 1


def run(settings: DemoSettings) -> dict[str, dict[str, Any]]:
    """Every step of the demo; returns query_task's data for each format."""
    deadline = time.monotonic() + settings.demo_timeout_s
    wait_healthy(settings.url, deadline)
    input_url = sample_url(settings.url)
    if input_url is None:  # EMULATOR_CONTROL=off: no samples; make a clip of our own
        with tempfile.TemporaryDirectory(prefix="emulator-demo-") as workdir:
            input_url = upload_clip(settings.s3_url, Path(workdir))
    with TranscodeClient(
        settings.url, settings.access_key_id, settings.access_key_secret
    ) as client:
        storage_id = ensure_storage(client)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        task_ids = {}
        for fmt in FORMATS:
            template = ensure_template(client, fmt)
            output = f"{stamp}/hls/clip.m3u8" if fmt == "hls" else f"{stamp}/clip.{fmt}"
            params = {
                "template_name": template,
                "input": input_url,
                "output": output,
                "storage_id": storage_id,
            }
            task_ids[fmt] = client.call("POST", "/api/create_task", params)["task_id"]
            print(f"demo: {fmt} task {task_ids[fmt]} created", flush=True)
        return wait_for_tasks(client, task_ids, deadline)


def wait_healthy(base_url: str, deadline: float) -> None:
    """Poll /_emulator/health until it answers 200 (it says 503 while starting)."""
    url = f"{base_url.rstrip('/')}/_emulator/health"
    print(f"demo: waiting for {url}", flush=True)
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=3)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise DemoFailed(f"the emulator at {base_url} did not become healthy ({last})")


def sample_url(base_url: str) -> str | None:
    """The emulator's built-in 2 s sample clip, when its control surface serves samples."""
    url = f"{base_url.rstrip('/')}/_emulator/samples/240p.mp4"
    if httpx.get(url, timeout=60).status_code != 200:  # also makes it, on first use
        return None
    print(f"demo: input is the built-in sample {url}", flush=True)
    return url


def upload_clip(s3_url: str, workdir: Path) -> str:
    """Make a 2 s clip with ffmpeg and put it in the emulator's S3; returns its s3:// URL."""
    from emulator.transcode.clips import make_clip

    clip = make_clip(workdir / "clip.mp4", size="320x240", rate=15, duration=2.0)
    store = ObjectStore(endpoint_url=s3_url)
    store.ensure_bucket(INPUT_BUCKET)
    store.upload_file(clip, INPUT_BUCKET, "clip.mp4")
    print(f"demo: uploaded a 2 s clip to s3://{INPUT_BUCKET}/clip.mp4 at {s3_url}", flush=True)
    return f"s3://{INPUT_BUCKET}/clip.mp4"


def ensure_storage(client: TranscodeClient) -> str:
    """The demo storage: added, or found again when an earlier run added it."""
    try:
        storage_id: str = client.call("POST", "/api/add_storage", STORAGE)["storage_id"]
    except Duplicated as exc:
        listed = client.call("GET", "/api/list_storage")["list"]
        same = [s for s in listed if all(s[key] == value for key, value in STORAGE.items())]
        if not same:
            raise DemoFailed(f"storage {STORAGE} is a duplicate but not listed") from exc
        storage_id = same[0]["storage_id"]
    print(f"demo: storage {storage_id} on bucket {STORAGE['bucket']}", flush=True)
    return storage_id


def ensure_template(client: TranscodeClient, fmt: str) -> str:
    """The custom template `demo-<fmt>`: added, or reset to the demo's fields."""
    params = {"name": f"demo-{fmt}", "format": fmt, **TEMPLATE_FIELDS}
    try:
        client.call("POST", "/api/add_template", params)
    except Duplicated:
        client.call("PUT", "/api/update_template", params)
    return str(params["name"])


def wait_for_tasks(
    client: TranscodeClient, task_ids: dict[str, str], deadline: float
) -> dict[str, dict[str, Any]]:
    """Poll query_task until every task is final; prints each status change."""
    seen: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    while len(results) < len(task_ids):
        for fmt, task_id in task_ids.items():
            if fmt in results:
                continue
            data = client.call("GET", "/api/query_task", {"task_id": task_id})
            if seen.get(fmt) != data["status"]:
                seen[fmt] = data["status"]
                print(f"demo: {fmt} task is {data['status']}", flush=True)
            if data["status"] in FINAL:
                results[fmt] = data
        if len(results) < len(task_ids):
            if time.monotonic() > deadline:
                raise DemoFailed(f"tasks still not final at the time limit: {seen}")
            time.sleep(0.2)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
