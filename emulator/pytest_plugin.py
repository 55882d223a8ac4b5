"""pytest plugin (entry point pytest11): fixtures that start and drive a real emulator.

    transcode_emulator  session: a running emulator (API, worker, embedded S3) on free ports
    transcode_client    function: its signed TranscodeClient, after a reset (isolated tests)
    transcode_client_v1 function: a TranscodeClientV1 (/vodencoding/v1, Basic auth), after a reset

With --transcode-emulator-snapshot NAME (or the ini setting) both clients start from that
snapshot, restored before each test, instead of from a reset.

Nothing starts unless a test uses one of them. Options: --transcode-emulator-url,
--transcode-emulator-token, --transcode-emulator-snapshot, and the transcode_emulator_* ini
settings (README, "pytest plugin").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

if TYPE_CHECKING:
    from emulator.clients.api import TranscodeClient
    from emulator.clients.v1 import TranscodeClientV1
    from emulator.testing import EmulatorOptions, Mode, TranscodeEmulator

INI = {
    "transcode_emulator_url": "URL of a running emulator to use instead of starting one",
    "transcode_emulator_access_key_id": "AccessKeyId (16 characters) of the emulator",
    "transcode_emulator_access_key_secret": "AccessKeySecret (32 characters) of the emulator",
    "transcode_emulator_control_token": "EMULATOR_CONTROL_TOKEN of the emulator",
    "transcode_emulator_concurrency": "worker slots of the started emulator (default 1; 0: none)",
    "transcode_emulator_mode": "subprocess (default) or in-process",
    "transcode_emulator_startup_timeout": "seconds to wait for a healthy emulator (default 60)",
    "transcode_emulator_seed": "seed file (EMULATOR_SEED) of the started emulator, relative to "
    "the rootdir",
    "transcode_emulator_snapshot": "snapshot every test starts from instead of a reset",
    "transcode_emulator_snapshot_dir": "EMULATOR_SNAPSHOT_DIR of the started emulator, relative "
    "to the rootdir (default: in its temporary data dir)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("transcode-emulator", "transcode-emulator fixtures")
    group.addoption(
        "--transcode-emulator-url",
        default=None,
        help="use the emulator running at this URL (it is reset before every test, so it must "
        "be dedicated to this test run)",
    )
    group.addoption(
        "--transcode-emulator-token",
        default=None,
        help="control token (EMULATOR_CONTROL_TOKEN) of that emulator, or for the started one",
    )
    group.addoption(
        "--transcode-emulator-seed",
        default=None,
        help="seed file (storages with fixed ids, templates, keys) the started emulator applies "
        "at start and at every reset (README, From pytest)",
    )
    group.addoption(
        "--transcode-emulator-snapshot",
        default=None,
        metavar="NAME",
        help="start every test from this snapshot (restored before each test) instead of an "
        "empty, reset emulator (README, Snapshots)",
    )
    for name, help_text in INI.items():
        parser.addini(name, help_text, default="")
    parser.addini(
        "transcode_emulator_settings",
        "more EMULATOR_* settings of the started emulator, one `name=value` a line",
        type="linelist",
        default=[],
    )


def emulator_options(config: pytest.Config) -> EmulatorOptions:
    """The command line first, then the ini file, then EMULATOR_CONTROL_TOKEN for the token."""
    from emulator.testing import EmulatorOptions

    def ini(name: str) -> str:
        return str(config.getini(f"transcode_emulator_{name}")).strip()

    options = EmulatorOptions()
    settings = {}
    for line in cast(list[str], config.getini("transcode_emulator_settings")):
        name, sep, value = line.partition("=")
        if not sep:
            raise pytest.UsageError(f"transcode_emulator_settings: {line!r} is not name=value")
        settings[name.strip().lower().removeprefix("emulator_")] = value.strip()
    seed = config.getoption("--transcode-emulator-seed")
    if seed or ini("seed"):
        where = Path(seed) if seed else config.rootpath / ini("seed")
        if not where.is_file():
            raise pytest.UsageError(f"transcode_emulator seed file {where} does not exist")
        settings["seed"] = str(where.resolve())
    if ini("snapshot_dir"):
        settings["snapshot_dir"] = str((config.rootpath / ini("snapshot_dir")).resolve())
    options.settings = settings
    options.snapshot = config.getoption("--transcode-emulator-snapshot") or ini("snapshot") or None
    options.url = config.getoption("--transcode-emulator-url") or ini("url") or None
    options.control_token = (
        config.getoption("--transcode-emulator-token")
        or ini("control_token")
        or os.environ.get("EMULATOR_CONTROL_TOKEN")
        or None
    )
    options.access_key_id = ini("access_key_id") or options.access_key_id
    options.access_key_secret = ini("access_key_secret") or options.access_key_secret
    if ini("mode") not in ("", "subprocess", "in-process"):
        raise pytest.UsageError("transcode_emulator_mode: use subprocess or in-process")
    options.mode = cast("Mode", ini("mode") or options.mode)
    try:
        options.concurrency = int(ini("concurrency") or options.concurrency)
        options.startup_timeout_s = float(ini("startup_timeout") or options.startup_timeout_s)
    except ValueError as exc:
        raise pytest.UsageError(f"transcode_emulator ini setting: {exc}") from None
    return options


@pytest.fixture(scope="session")
def transcode_emulator(pytestconfig: pytest.Config) -> Iterator[TranscodeEmulator]:
    """A real emulator for the whole session; stopped and its files removed at the end."""
    from emulator.testing import start_emulator

    emulator = start_emulator(emulator_options(pytestconfig))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def transcode_client(transcode_emulator: TranscodeEmulator) -> TranscodeClient:
    """The emulator's signed client, after a reset (or the snapshot's restore): every test
    starts from the same state."""
    transcode_emulator.begin_test()
    return transcode_emulator.client


@pytest.fixture
def transcode_client_v1(transcode_emulator: TranscodeEmulator) -> Iterator[TranscodeClientV1]:
    """The current generation's client (HTTP Basic, /vodencoding/v1 shapes), after a reset."""
    from emulator.clients.v1 import TranscodeClientV1

    transcode_emulator.begin_test()
    with TranscodeClientV1(
        transcode_emulator.base_url,
        transcode_emulator.access_key_id,
        transcode_emulator.access_key_secret,
    ) as client:
        yield client
