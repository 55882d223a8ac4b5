"""Usage errors are one line and the usage (exit 2); every option is described in --help."""

from __future__ import annotations

import re
import socket

import pytest

from emulator.cli import main
from tests.cli.conftest import environment, run

COMMANDS = [
    "serve", "worker", "s3", "migrate", "call", "query-task", "create-task", "templates",
    "storages", "wait", "reset", "keys", "tasks", "sign",
]  # fmt: skip
NESTED = [["keys", action] for action in ("list", "create", "disable", "enable", "delete")]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["sign", "GET", "/api/query_task", "--query", "task_id"], "'task_id' is not KEY=VALUE"),
        (["call", "GET", "api/list_template"], "'api/list_template' must start with /"),
        (["call", "POST", "/api/add_template", "--json", "{}", "name"], "'name' is not KEY="),
        (["create-task", "--template", "t", "--input", "i", "--output", "o"], "--storage-id"),
        (["wait", "t", "--timeout", "soon"], "'soon' is not a positive number"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_a_usage_error_is_one_line_and_the_usage(argv: list[str], says: str) -> None:
    done = run(*argv, env=environment())
    assert done.returncode == 2
    assert done.stdout == "" and "Traceback" not in done.stderr
    *usage, error = done.stderr.splitlines()
    assert usage[0].startswith("usage: transcode-emulator")
    assert error.startswith("transcode-emulator") and ": error: " in error and says in error


def test_an_unreachable_emulator_is_named() -> None:
    with socket.socket() as closed:  # a port nothing listens on once this socket closes
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = run("templates", env=environment(EMULATOR_PORT=str(port)))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert f"cannot reach the emulator at http://127.0.0.1:{port} " in done.stderr


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _options(text: str) -> dict[str, str]:
    """Each option of a --help text, with its description (which may start on the next line)."""
    section = text.split("\noptions:\n", 1)[1]
    found: dict[str, str] = {}
    current = ""
    for line in section.splitlines():
        entry = re.match(r"  (-[^ ].*?)(?:  +(.*))?$", line)
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2) or ""
        elif line.startswith(" " * 10) and current:
            found[current] += " " + line.strip()
    return found


@pytest.mark.parametrize("argv", [[c] for c in COMMANDS] + NESTED, ids=" ".join)
def test_every_option_has_a_description(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(argv, capsys)
    description = text.split("\n\n")[1]
    assert description.strip() and not description.startswith(("positional", "options"))
    options = _options(text)
    assert len(options) > 1  # -h and at least one of the command's own
    assert all(help.strip() for help in options.values()), options


def test_defaults_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    serve = _options(_help(["serve"], capsys))
    assert "(default: $EMULATOR_PORT, else 8080)" in serve["--port PORT"]
    wait = _options(_help(["wait"], capsys))
    assert "(default: 300.0)" in wait["--timeout TIMEOUT"]
    assert "EMULATOR_PORT" in wait["--url URL"]


def test_sign_help_says_how_to_use_curl(capsys: pytest.CaptureFixture[str]) -> None:
    curl = _options(_help(["sign"], capsys))["--curl BASE_URL"]
    assert 'eval "$(transcode-emulator sign ... --curl URL)"' in curl
