"""snippets.create_task: one request as curl, Python and Go, with no secret but the public pair.

tests/ui/test_actions.py runs the copied curl and Python snippets against a live emulator.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.config import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET
from emulator.control import snippets

PARAMS = {
    "template_name": "480p",
    "input": "http://127.0.0.1:8080/_emulator/samples/240p.mp4",
    "output": 'it\'s "quoted"/ünï.mp4',  # quotes of every kind, and not ASCII
    "storage_id": "st0000000000abcd",
}
BASE = "http://127.0.0.1:8080"


def made(dev_keys: bool, access_key_id: str = DEV_ACCESS_KEY_ID) -> dict[str, str]:
    found = snippets.create_task(
        PARAMS, base_url=f"{BASE}/", access_key_id=access_key_id, dev_keys=dev_keys
    )
    return {snippet.lang: snippet.code for snippet in found}


def test_the_curl_line_has_the_cli_sign_the_exact_parameters() -> None:
    line = made(True)["curl"].splitlines()[-1]
    # The shell parses what $(...) holds afresh, quotes and all, even inside double quotes.
    assert line.startswith('eval "$(') and line.endswith(')"')
    inner = shlex.split(line.removeprefix('eval "$(').removesuffix(')"'))
    assert inner[:6] == ["transcode-emulator", "sign", "POST", "/api/create_task", "--curl", BASE]
    assert json.loads(inner[inner.index("--json") + 1]) == PARAMS


def test_the_python_snippet_calls_create_task_with_the_parameters() -> None:
    tree = ast.parse(made(True)["python"])
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    client = next(c for c in calls if getattr(c.func, "id", "") == "TranscodeClient")
    assert [ast.literal_eval(arg) for arg in client.args] == [
        BASE,
        DEV_ACCESS_KEY_ID,
        DEV_ACCESS_KEY_SECRET,
    ]
    create = next(c for c in calls if getattr(c.func, "attr", "") == "create_task")
    assert {k.arg: ast.literal_eval(k.value) for k in create.keywords} == PARAMS


def test_the_go_program_posts_the_parameters_to_v1_with_basic_auth() -> None:
    code = made(True)["go"]
    assert code.count("package main") == 1
    assert f'"{BASE}/vodencoding/v1/create_task"' in code
    assert f'req.SetBasicAuth("{DEV_ACCESS_KEY_ID}", "{DEV_ACCESS_KEY_SECRET}")' in code
    pairs = dict(re.findall(r'^\t\t("[a-z_]+"):\s+(".*"),$', code, flags=re.M))
    assert {json.loads(k): json.loads(v) for k, v in pairs.items()} == PARAMS
    assert '"os"' not in code  # an unused import does not compile in Go


@pytest.mark.parametrize("lang", ["curl", "python", "go"])
def test_other_keys_are_read_from_the_environment(lang: str) -> None:
    code = made(False, access_key_id="MYKEY00000000001")[lang]
    assert DEV_ACCESS_KEY_SECRET not in code
    assert "EMULATOR_ACCESS_KEY_SECRET" in code
    assert "MYKEY00000000001" in code


def test_the_go_program_imports_os_only_for_the_environment() -> None:
    assert '\t"os"\n' in made(False, access_key_id="MYKEY00000000001")["go"]
    ast.parse(made(False, access_key_id="MYKEY00000000001")["python"])


@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain on this machine")
@pytest.mark.parametrize("dev_keys", [True, False], ids=["dev-pair", "own-key"])
def test_the_go_program_passes_go_vet(dev_keys: bool, tmp_path: Path) -> None:
    """The program compiles as written (vet type-checks it), quotes and all."""
    program = tmp_path / "main.go"
    program.write_text(made(dev_keys, "MYKEY0000000001")["go"], encoding="utf-8")
    env = {**os.environ, "GOCACHE": str(tmp_path / "cache")}  # never the user's cache
    done = subprocess.run(
        ["go", "vet", str(program)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
