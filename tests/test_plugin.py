"""The pytest plugin used exactly as an outside project would: a temporary project, its own run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.client import TranscodeClient
from emulator.server import EmulatorServer

pytest_plugins = ["pytester"]

STRICT_INI = """
[pytest]
addopts = -p no:cacheprovider
filterwarnings = error
{extra}
"""

OUTSIDE_TESTS = """
import httpx


def test_transcodes_a_clip(transcode_client, transcode_emulator, tmp_path):
    print(f"emulator started in {{transcode_emulator.started_in_s:.2f}} s")
    storage = transcode_client.add_storage("cn-hz", "s3", "outputs").storage_id
    source = transcode_emulator.put_input(r"{clip}", "clips/in.mp4")
    task = transcode_client.create_task("480p", source, "out/in-480p.mp4", storage)
    done = transcode_client.wait_for_task(task.task_id, timeout=60)
    assert done.status == "success", done.err_msg
    listed = transcode_emulator.s3.list_objects_v2(Bucket="outputs")
    assert [o["Key"] for o in listed["Contents"]] == ["out/in-480p.mp4"]
    assert transcode_client.download_output(task.task_id, tmp_path).stat().st_size > 0


def test_each_test_starts_from_a_fresh_emulator(transcode_client, transcode_emulator):
    assert transcode_client.list_storage().num == 0
    assert transcode_emulator.s3.list_buckets()["Buckets"] == []
    keys = httpx.get(f"{{transcode_emulator.base_url}}/_emulator/keys")
    assert keys.status_code == 401  # the control token applies


def test_both_generations_share_one_store(transcode_client, transcode_client_v1):
    storage_id = transcode_client_v1.add_storage(region="cn-hz", type="s3", bucket="shared")
    assert [s.storage_id for s in transcode_client.list_storage().list] == [storage_id]


def test_failure_paths(transcode_client):
    transcode_client.control.fail_route("create_task", 1000)
    try:
        transcode_client.create_task("480p", "s3://x/y.mp4", "o.mp4", "nope")
    except Exception as exc:
        assert type(exc).__name__ == "InternalError"
    else:
        raise AssertionError("the injected fault did not fire")
"""


def test_outside_project_runs_the_plugin(pytester: pytest.Pytester, clip: Path) -> None:
    """Default mode (subprocess), a control token, warnings as errors in the project."""
    pytester.makeini(STRICT_INI.format(extra="transcode_emulator_control_token = t0ken"))
    pytester.makepyfile(test_outside=OUTSIDE_TESTS.format(clip=clip))
    result = pytester.runpytest_subprocess("-s", timeout=240)
    result.assert_outcomes(passed=4)
    started = re.search(r"emulator started in ([\d.]+) s", result.stdout.str())
    assert started, result.stdout.str()
    print(f"subprocess emulator started in {started[1]} s")


def test_in_process_mode_and_options(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        STRICT_INI.format(
            extra="\n".join(
                [
                    "transcode_emulator_mode = in-process",
                    "transcode_emulator_concurrency = 0",
                    "transcode_emulator_access_key_id = OUTSIDEAKID00001",
                    "transcode_emulator_access_key_secret = " + "o" * 32,
                    "transcode_emulator_settings =",
                    "    request_log_size = 5",
                ]
            )
        )
    )
    pytester.makepyfile(
        test_inproc="""
def test_in_process(transcode_client, transcode_emulator):
    print(f"emulator started in {transcode_emulator.started_in_s:.2f} s")
    assert transcode_emulator.access_key_id == "OUTSIDEAKID00001"
    health = transcode_client.control.health()
    assert health["worker"]["state"] == "off"
    for _ in range(7):
        transcode_client.list_template()
    assert len(transcode_client.control.requests()) == 5
"""
    )
    result = pytester.runpytest_subprocess("-s", timeout=120)
    result.assert_outcomes(passed=1)
    started = re.search(r"emulator started in ([\d.]+) s", result.stdout.str())
    assert started, result.stdout.str()
    print(f"in-process emulator started in {started[1]} s")


def test_url_option_uses_a_running_emulator(
    pytester: pytest.Pytester, api: TranscodeClient, emulator: EmulatorServer
) -> None:
    api.add_storage("cn-hz", "s3", "before")
    pytester.makeini(STRICT_INI.format(extra=""))
    pytester.makepyfile(
        test_url=f'''
def test_url(transcode_client, transcode_emulator):
    assert transcode_emulator.base_url == "{emulator.base_url}"
    assert transcode_emulator.data_dir is None
    assert transcode_client.list_storage().num == 0  # reset before the test
'''
    )
    result = pytester.runpytest_subprocess(
        f"--transcode-emulator-url={emulator.base_url}", timeout=120
    )
    result.assert_outcomes(passed=1)
    assert api.list_storage().num == 0


def test_nothing_starts_or_is_read_unless_a_fixture_is_used(pytester: pytest.Pytester) -> None:
    """A project that never uses the fixtures is not affected, even with a broken setting."""
    pytester.makeini(STRICT_INI.format(extra="transcode_emulator_mode = docker"))
    pytester.makepyfile(
        test_plain="def test_plain():\n    assert True\n",
        test_uses="def test_uses(transcode_emulator):\n    pass\n",
    )
    result = pytester.runpytest_subprocess(timeout=60)
    result.assert_outcomes(passed=1, errors=1)
    assert "UsageError: transcode_emulator_mode: use subprocess or in-process" in (
        result.stdout.str()
    )
