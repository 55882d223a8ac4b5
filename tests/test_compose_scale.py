"""docker-compose.yml's `scale` profile: config check, and its topology run as local processes.

The fleet (one `s3`, two API nodes, three workers) runs as tests/test_compose.py runs compose
services: hostnames -> 127.0.0.1, ports -> free ones, volumes -> directories. The PostgreSQL
service is this module's own database on the test server (no engine to run its image).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from emulator.storage.store import ObjectStore
from tests.scale.fleet import client, create, poll, query
from tests.scale.pg import fresh_database
from tests.test_compose import COMPOSE_FILE, STOPPED, LocalCompose, Service, docker_compose
from tests.test_dockerfile import ROOT

SCALE = {
    "scale-postgres",
    "scale-s3",
    "scale-api-1",
    "scale-api-2",
    "scale-worker-1",
    "scale-worker-2",
    "scale-worker-3",
}


@dataclass
class ScaleCompose(LocalCompose):
    """The `scale` services only; the test's database stands in for scale-postgres."""

    database_url: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in [n for n in self.services if n not in SCALE]:
            del self.services[name]  # as `up` with the scale services named (README)

    def start(self, service: Service) -> None:
        if service.name != "scale-postgres":
            super().start(service)

    def condition_met(self, service: Service, condition: str) -> bool:
        return service.name == "scale-postgres" or super().condition_met(service, condition)

    def env(self, service: Service) -> dict[str, str]:
        env = super().env(service)
        if "EMULATOR_DATABASE_URL" in env:
            env["EMULATOR_DATABASE_URL"] = self.database_url
        return env


@pytest.fixture
def scale_run(tmp_path: Path) -> Iterator[ScaleCompose]:
    with fresh_database() as url:
        run = ScaleCompose(workdir=tmp_path, profiles=("scale",), database_url=url)
        try:
            yield run
        finally:
            codes = run.down()
        assert all(code in STOPPED for code in codes.values()), codes


def test_scale_profile_config_is_valid() -> None:
    done = subprocess.run(
        [docker_compose(), "-f", str(COMPOSE_FILE), "--profile", "scale", "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_scale_profile_has_the_issue_topology(tmp_path: Path) -> None:
    services = ScaleCompose(workdir=tmp_path, profiles=("scale",)).services
    assert set(services) == SCALE
    assert all(s.spec["profiles"] == ["scale"] for s in services.values())
    commands = {name: s.spec.get("command") for name, s in services.items()}
    assert commands["scale-s3"][:2] == ["transcode-emulator", "s3"]
    for node in ("scale-api-1", "scale-api-2"):
        assert (
            commands[node][:2] == ["transcode-emulator", "serve"]
            and "--no-worker" in commands[node]
        )
    urls = set()
    for name in SCALE - {"scale-postgres", "scale-s3"}:
        env = services[name].spec["environment"]
        urls.add((env["EMULATOR_DATABASE_URL"], env["EMULATOR_S3_ENDPOINT_URL"]))
        assert set(services[name].spec["depends_on"]) == {"scale-postgres", "scale-s3"}
    assert urls == {
        (
            "postgresql+psycopg://emulator:emulator@scale-postgres:5432/emulator",
            "http://scale-s3:9000",
        )
    }


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_scale_profile_runs_as_processes(scale_run: ScaleCompose, clip: Path) -> None:
    run = scale_run
    run.up(timeout_s=120)
    s3_port = run.services["scale-s3"].ports[9000]
    nodes = [
        f"http://127.0.0.1:{run.services[n].ports[8080]}" for n in ("scale-api-1", "scale-api-2")
    ]
    for url in nodes:
        poll(lambda u=url: _healthy(u), timeout_s=60, what=f"{url} healthy")
    objects = ObjectStore(endpoint_url=f"http://127.0.0.1:{s3_port}")
    objects.ensure_bucket("inputs")
    objects.upload_file(clip, "inputs", "clip.mp4")
    with client(nodes[0]) as api:
        storage = api.call(
            "POST", "/api/add_storage", {"region": "r", "type": "s3", "bucket": "out"}
        )
    ids = [
        create(node, storage["storage_id"], "s3://inputs/clip.mp4", f"o{i}.mp4", "origin")
        for i, node in enumerate(nodes * 2)
    ]
    for i, task_id in enumerate(ids):  # each task read back through the other node
        done = poll(
            lambda t=task_id, n=nodes[(i + 1) % 2]: (d := query(n, t))["status"] == "success" and d,
            timeout_s=90,
            what=f"task {task_id}",
        )
        # The public S3 URL (localhost:9001 in the file) stands in for the published port.
        assert done["output_url"].startswith(f"http://127.0.0.1:{s3_port}/")
        assert httpx.get(done["output_url"]).content[4:8] == b"ftyp"
    workers = [run.services[f"scale-worker-{i}"] for i in (1, 2, 3)]
    poll(
        lambda: all("slot(s), S3 at" in run.logs(w) for w in workers),
        timeout_s=60,
        what="three workers started",
    )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_emulator/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
