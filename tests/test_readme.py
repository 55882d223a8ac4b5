"""The README's examples run as written: the shell block against `serve`, the pytest example as
an outside project. When the README changes, these follow it (they read the blocks from it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulator.server import free_port

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def blocks(title: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(title), flags=re.S)


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`transcode-emulator serve` as `make run` starts it, moved only through EMULATOR_PORT and
    EMULATOR_S3_PORT (the variables the README names for other ports)."""
    env = clean_environment(
        EMULATOR_PORT=str(free_port()),
        EMULATOR_S3_PORT=str(free_port()),
        EMULATOR_DATA_DIR=str(tmp_path / "data"),
    )
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "transcode-emulator"), "serve"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{env['EMULATOR_PORT']}/_emulator/health"
        with httpx.Client(timeout=2) as client:
            for _ in range(600):
                try:
                    if client.get(url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log.read_text()
                subprocess.run(["sleep", "0.05"], check=True)
        yield env
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_first_task_from_the_shell_runs_as_written(
    served: dict[str, str], tmp_path: Path
) -> None:
    [block] = blocks("A first task from the shell", "sh")[:1]
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=work,
        env=served,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("success "), done.stdout
    [output] = list(work.glob("*.mp4"))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=codec_type,height", "-of", "csv=p=0", str(output)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "video,480"


def test_the_pytest_example_runs_as_an_outside_project(pytester: pytest.Pytester) -> None:
    files: dict[str, str] = {}
    for language in ("python", "json", "ini"):
        for block in blocks("From pytest", language):
            first = block.splitlines()[0]
            name = re.match(r"# (\S+\.(?:py|ini))", first)
            files[name[1] if name else "seed.json"] = block
    assert set(files) == {"test_transcoding.py", "test_scripted.py", "pytest.ini", "seed.json"}
    for name, text in files.items():
        (pytester.path / name).write_text(text, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=3)


def test_the_configuration_table_lists_every_setting() -> None:
    from emulator.config import Settings

    table = section("Configuration")
    documented = set(re.findall(r"^\| `EMULATOR_([A-Z0-9_]+)` \|", table, flags=re.M))
    settings = {name.upper() for name in Settings.model_fields}
    assert documented == settings


def test_no_link_leaves_the_repository() -> None:
    root = README.parent
    for page in [README, *sorted((root / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://127.0.0.1", "http://localhost")):
                continue
            assert "://" not in target, (page, target)
            assert (page.parent / target).resolve().is_relative_to(root), (page, target)
            assert (page.parent / target).exists(), (page, target)


def test_make_run_takes_the_ports_it_is_given() -> None:
    done = subprocess.run(
        ["make", "-n", "run", "PORT=8181", "S3_PORT=9191"],
        cwd=README.parent, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "transcode-emulator serve --port 8181 --s3-port 9191" in done.stdout
