"""`transcode-emulator call` (signed and Basic), query-task, and `sign --curl` in a shell."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer
from tests.cli.conftest import Cli, environment


def test_call_signs_and_prints_the_envelope(api: TranscodeClient, cli: Cli) -> None:
    done = cli("call", "POST", "/api/add_storage", "region=cn-hz", "type=s3", "bucket=called")
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    assert envelope["code"] == 0
    assert api.list_storage().list[0].storage_id == envelope["data"]["storage_id"]
    assert done.stdout.startswith('{\n  "code": 0')  # indented


def test_call_merges_typed_params_into_the_json_body(api: TranscodeClient, cli: Cli) -> None:
    done = cli("call", "POST", "/api/add_template", "--json", '{"name": "typed"}', "quality:=7")
    assert done.returncode == 0, done.stdout
    assert api.query_template("typed").quality == 7


def test_call_get_sends_params_in_the_query_string(api: TranscodeClient, cli: Cli) -> None:
    done = cli("call", "GET", "/api/query_template", "name=origin", "--scheme", "legacy")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["data"]["name"] == "origin"


def test_call_v1_uses_basic_auth(api: TranscodeClient, cli: Cli) -> None:
    done = cli("call", "--v1", "GET", "/vodencoding/v1/query_template", "template_name=origin")
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["data"]["template_name"] == "origin"


def test_a_non_zero_code_exits_1(api: TranscodeClient, cli: Cli) -> None:
    done = cli("call", "GET", "/api/query_task", "task_id=nosuchtask")
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == 1004  # the envelope is still printed


def test_query_task_prints_the_task(api: TranscodeClient, cli: Cli, storage_id: str) -> None:
    task = api.create_task("origin", "http://127.0.0.1:1/a.mp4", "q.mp4", storage_id).task_id
    for generation in ((), ("--v1",)):
        done = cli("query-task", task, *generation)
        assert done.returncode == 0, done.stdout
        assert json.loads(done.stdout)["data"]["task_id"] == task


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def _sign(*argv: str) -> str:
    import sys

    return shlex.join([sys.executable, "-m", "emulator", "sign", *argv])


@needs_curl
def test_sign_curl_works_inside_eval(api: TranscodeClient, emulator: EmulatorServer) -> None:
    body = json.dumps({"name": "via-eval", "description": "it's spaced"})
    sign = _sign("POST", "/api/add_template", "--json", body, "--curl", emulator.base_url)
    done = subprocess.run(
        ["bash", "-c", f'eval "$({sign})"'], capture_output=True, text=True, env=environment()
    )
    assert json.loads(done.stdout)["code"] == 0, done.stdout + done.stderr
    assert api.query_template("via-eval").description == "it's spaced"


@needs_curl
def test_sign_curl_works_pasted(api: TranscodeClient, emulator: EmulatorServer) -> None:
    body = json.dumps({"name": "pasted", "description": "it's spaced"})
    sign = _sign("POST", "/api/add_template", "--json", body, "--curl", emulator.base_url)
    printed = subprocess.run(
        ["bash", "-c", sign], capture_output=True, text=True, env=environment(), check=True
    ).stdout
    done = subprocess.run(["bash", "-c", printed], capture_output=True, text=True)
    assert json.loads(done.stdout)["code"] == 0, done.stdout + done.stderr
    assert api.query_template("pasted").description == "it's spaced"
