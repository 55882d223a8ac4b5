"""docker-compose.yml without a Docker engine: `docker-compose config`; services as processes.

The process runner starts each active service's command line (the image's CMD unless the
service sets `command`) wired as compose wires containers: the image's ENV, then the
service's environment (host variables passed through), service hostnames -> 127.0.0.1,
every exposed port -> a free port (through the settings that choose it), published host
ports -> the same free ports, volumes -> directories, and depends_on conditions honoured.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulator.server import free_port
from tests.test_dockerfile import ROOT, final_stage

COMPOSE_FILE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent
# In the container each server listens on its default port; here the setting picks a free one.
PORT_SETTINGS = {8080: "EMULATOR_PORT", 9000: "EMULATOR_S3_PORT"}
LOCAL_PROGRAMS = {"transcode-emulator": VENV_BIN / "transcode-emulator", "python": sys.executable}
OUTPUT_LINE = re.compile(r"^(mp4|hls|flv)\s+success\s+(http\S+)$", re.MULTILINE)
# A clean stop on SIGTERM: uvicorn shuts down gracefully, then re-raises the signal.
STOPPED = (0, -signal.SIGTERM)
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}")


def load_compose(host_env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file with ${VAR}, ${VAR:-default} and ${VAR-default} interpolated."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, default = match.groups()
        value = host_env.get(name)
        if value is None or (operator == ":-" and value == ""):
            return default or ""
        return value

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _VARIABLE.sub(substitute, node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return node

    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return walk(loaded)  # type: ignore[no-any-return]


def environment(service: Mapping[str, Any], host_env: Mapping[str, str]) -> dict[str, str]:
    """A service's environment; a variable without a value is the host's, or left unset."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    resolved = {k: host_env.get(k) if v is None else str(v) for k, v in raw.items()}
    return {k: v for k, v in resolved.items() if v is not None}


def healthcheck_argv(check: Mapping[str, Any] | None, image_check: list[str]) -> list[str] | None:
    if check is None:
        return image_check
    if check.get("disable"):
        return None
    test = check["test"]
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *argv = test
    return {"CMD": argv, "CMD-SHELL": ["sh", "-c", " ".join(argv)], "NONE": None}[kind]


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    ports: dict[int, int]  # container port -> free local port
    volumes: dict[str, Path]  # container path -> local directory
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class LocalCompose:
    """Runs the active services of docker-compose.yml as local processes."""

    workdir: Path
    profiles: tuple[str, ...] = ()
    host_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.compose = load_compose(self.host_env)
        self.image = final_stage()
        exposed = [int(port) for port in " ".join(self.image.all("EXPOSE")).split()]
        assert sorted(exposed) == sorted(PORT_SETTINGS), "update PORT_SETTINGS"
        image_volumes = [v.strip('[]"') for v in self.image.all("VOLUME")]
        for name, spec in self.compose["services"].items():
            if spec.get("profiles") and not set(spec["profiles"]) & set(self.profiles):
                continue
            volumes = {
                target: self.workdir / f"{name}-anonymous{target}" for target in image_volumes
            }
            for entry in spec.get("volumes", []):
                source, target = entry.split(":")[:2]
                volumes[target] = self.workdir / "volumes" / source
            ports = {port: free_port() for port in exposed}
            self.services[name] = Service(name=name, spec=spec, ports=ports, volumes=volumes)
        self.published = self._published_ports()

    def _published_ports(self) -> dict[int, int]:
        """Host port -> the free port standing in for it."""
        published = {}
        for service in self.services.values():
            for entry in service.spec.get("ports", []):
                *_, host, container = str(entry).split("/")[0].split(":")
                published[int(host)] = service.ports[int(container)]
        return published

    def rewrite(self, service: Service, value: str) -> str:
        """Container addresses and paths -> their local stand-ins."""
        for other in self.services.values():
            for container, local in other.ports.items():
                value = value.replace(f"//{other.name}:{container}", f"//127.0.0.1:{local}")
        for host, local in self.published.items():
            for name in ("localhost", "127.0.0.1"):
                value = value.replace(f"//{name}:{host}", f"//127.0.0.1:{local}")
        for target, local in service.volumes.items():
            if value == target or value.startswith(f"{target}/"):
                value = str(local) + value[len(target) :]
        return "127.0.0.1" if value == "0.0.0.0" else value

    def env(self, service: Service) -> dict[str, str]:
        home = self.workdir / f"{service.name}-home"
        home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
        env.update(self.image.env())
        env.update(environment(service.spec, self.host_env))
        env.update({PORT_SETTINGS[c]: str(local) for c, local in service.ports.items()})
        return {key: self.rewrite(service, value) for key, value in env.items()}

    def argv(self, service: Service, argv: list[str]) -> list[str]:
        program = LOCAL_PROGRAMS[argv[0]]
        return [str(program), *(self.rewrite(service, arg) for arg in argv[1:])]

    def order(self) -> list[str]:
        """Services in dependency order (compose starts dependencies first)."""
        done: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            assert name not in path, f"dependency cycle {path}"
            for dependency in self.services[name].spec.get("depends_on", {}):
                assert dependency in self.services, f"{name} needs inactive {dependency}"
                visit(dependency, (*path, name))
            if name not in done:
                done.append(name)

        for name in self.services:
            visit(name, ())
        return done

    def up(self, timeout_s: float = 60) -> None:
        for name in self.order():
            service = self.services[name]
            for dependency, spec in service.spec.get("depends_on", {}).items():
                self.wait_condition(self.services[dependency], spec["condition"], timeout_s)
            self.start(service)

    def start(self, service: Service) -> None:
        for directory in service.volumes.values():
            directory.mkdir(parents=True, exist_ok=True)
        command = service.spec.get("command") or self.image.exec_form("CMD")
        service.log = self.workdir / f"{service.name}.log"
        with service.log.open("wb") as log:
            service.process = subprocess.Popen(
                self.argv(service, command),
                env=self.env(service),
                cwd=self.workdir / f"{service.name}-home",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_condition(self, service: Service, condition: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.condition_met(service, condition):
            assert service.process is not None
            if service.process.poll() is not None and condition != "service_completed_successfully":
                pytest.fail(
                    f"{service.name} exited {service.process.returncode}:\n{self.logs(service)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{service.name}: {condition} not met in {timeout_s} s:\n{self.logs(service)}"
                )
            time.sleep(0.25)  # each probe starts a python, as docker does

    def condition_met(self, service: Service, condition: str) -> bool:
        assert service.process is not None
        if condition == "service_started":
            return True
        if condition == "service_completed_successfully":
            return service.process.poll() == 0
        check = healthcheck_argv(
            service.spec.get("healthcheck"), self.image.exec_form("HEALTHCHECK")
        )
        assert check is not None, f"{service.name} is depended on as healthy but has no check"
        probe = subprocess.run(
            self.argv(service, check), env=self.env(service), capture_output=True, check=False
        )
        return probe.returncode == 0

    def wait_exit(self, name: str, timeout_s: float) -> int:
        process = self.services[name].process
        assert process is not None
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"{name} still running after {timeout_s} s:\n{self.logs(self.services[name])}"
            )

    def down(self) -> dict[str, int | None]:
        """SIGTERM in reverse start order, as `docker compose down` does; exit codes by name."""
        codes: dict[str, int | None] = {}
        for name in reversed(self.order()):
            process = self.services[name].process
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            codes[name] = process.returncode
        return codes

    def logs(self, service: Service) -> str:
        return service.log.read_text(errors="replace") if service.log else ""


@pytest.fixture
def compose_run(tmp_path: Path) -> Iterator[Any]:
    runs: list[LocalCompose] = []

    def make(
        profiles: tuple[str, ...] = (), host_env: dict[str, str] | None = None
    ) -> LocalCompose:
        run = LocalCompose(workdir=tmp_path, profiles=profiles, host_env=host_env or {})
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.down()


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip(
            "DOCKER-COMPOSE IS NOT INSTALLED: `make tools` installs Debian's docker-compose"
        )
    return found


def test_compose_config_is_valid() -> None:
    for profile in ([], ["--profile", "workers"]):
        done = subprocess.run(
            [docker_compose(), "-f", str(COMPOSE_FILE), *profile, "config", "-q"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert (done.returncode, done.stderr) == (0, "")


def test_compose_file_follows_the_compose_specification() -> None:
    compose = load_compose({})
    assert "version" not in compose
    services = compose["services"]
    scale = {name for name, spec in services.items() if spec.get("profiles") == ["scale"]}
    assert sorted(set(services) - scale) == ["demo", "emulator", "worker"]
    assert services["worker"]["profiles"] == ["workers"]
    for name in ("worker", "demo"):
        assert services[name]["depends_on"] == {"emulator": {"condition": "service_healthy"}}
    # Every service of ours builds the image: an image-only one would be pulled, and fail.
    # The scale profile's PostgreSQL is the one service that runs a published image.
    ours = {name: spec for name, spec in services.items() if name != "scale-postgres"}
    assert all(spec["build"]["dockerfile"] == "docker/Dockerfile" for spec in ours.values())
    assert services["scale-postgres"]["image"].startswith("postgres:")


def test_compose_and_image_health_checks_are_the_same_command() -> None:
    emulator = load_compose({})["services"]["emulator"]
    in_compose = healthcheck_argv(emulator["healthcheck"], [])
    in_image = final_stage().exec_form("HEALTHCHECK")
    assert in_compose is not None
    assert [" ".join(arg.split()) for arg in in_compose] == in_image


def test_ports_are_published_on_localhost_unless_told_otherwise() -> None:
    ports = load_compose({})["services"]["emulator"]["ports"]
    assert ports == ["127.0.0.1:8080:8080", "127.0.0.1:9000:9000"]
    shared = load_compose({"EMULATOR_BIND": "0.0.0.0"})["services"]["emulator"]["ports"]
    assert shared == ["0.0.0.0:8080:8080", "0.0.0.0:9000:9000"]


def test_host_ports_come_from_variables_and_the_public_urls_follow() -> None:
    moved = load_compose({"EMULATOR_HOST_PORT": "18080", "EMULATOR_HOST_S3_PORT": "19000"})
    emulator, worker = moved["services"]["emulator"], moved["services"]["worker"]
    assert emulator["ports"] == ["127.0.0.1:18080:8080", "127.0.0.1:19000:9000"]
    assert emulator["environment"]["EMULATOR_PUBLIC_URL"] == "http://localhost:18080"
    assert emulator["environment"]["EMULATOR_PUBLIC_S3_URL"] == "http://localhost:19000"
    assert worker["environment"]["EMULATOR_PUBLIC_S3_URL"] == "http://localhost:19000"


def test_the_example_seed_file_is_valid() -> None:
    from emulator.services.seed import load

    example = load(ROOT / "docker" / "seeds" / "example.json")
    assert [s.storage_id for s in example.storages] == ["demo00000000out1"]
    assert "./docker/seeds:/seeds:ro" in load_compose({})["services"]["emulator"]["volumes"]


def check_demo(run: LocalCompose) -> None:
    """The demo exited 0 and printed three presigned URLs the host can download."""
    code = run.wait_exit("demo", timeout_s=90)
    log = run.logs(run.services["demo"])
    assert code == 0, log
    urls = dict(OUTPUT_LINE.findall(log))
    assert sorted(urls) == ["flv", "hls", "mp4"], log
    s3_port = run.services["emulator"].ports[9000]
    for fmt, url in urls.items():
        # EMULATOR_PUBLIC_S3_URL (the host's localhost:9000) stands in for the published port.
        assert url.startswith(f"http://127.0.0.1:{s3_port}/"), url
        body = httpx.get(url, timeout=10).raise_for_status().content
        magic = {"mp4": body[4:8] == b"ftyp", "flv": body[:3] == b"FLV"}
        assert magic.get(fmt, body.startswith(b"#EXTM3U")), (fmt, body[:16])


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_default_profile_ends_with_a_working_demo(compose_run: Any) -> None:
    run = compose_run()
    assert sorted(run.services) == ["demo", "emulator"]
    run.up()
    check_demo(run)
    assert "demo: input is the built-in sample" in run.logs(run.services["demo"])
    assert run.down()["emulator"] in STOPPED, run.logs(run.services["emulator"])


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_workers_profile_adds_a_worker_on_the_same_data(compose_run: Any) -> None:
    keys = {
        "EMULATOR_ACCESS_KEY_ID": "COMPOSEAKID00001",
        "EMULATOR_ACCESS_KEY_SECRET": "composeSecretKey0123456789abcdef",
    }
    run = compose_run(profiles=("workers",), host_env=keys)
    assert sorted(run.services) == ["demo", "emulator", "worker"]
    run.up()
    check_demo(run)
    worker = run.services["worker"]
    assert "slot(s), S3 at http://127.0.0.1:" in run.logs(worker)
    codes = run.down()
    assert codes["worker"] in STOPPED and codes["emulator"] in STOPPED, codes
