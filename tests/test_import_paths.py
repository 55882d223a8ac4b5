"""The import paths users write keep working after the layout moved modules into packages."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ("emulator.client", "emulator.clients.api", ["TranscodeClient", "TaskTimeout", "unwrap"]),
        ("emulator.client_v1", "emulator.clients.v1", ["TranscodeClientV1", "basic_authorization"]),
        ("emulator.client_models", "emulator.clients.models", ["Task", "TaskList", "Summary"]),
        ("emulator.control_client", "emulator.clients.control", ["ControlClient", "HeldStage"]),
        ("emulator.cli", "emulator.cli", ["main"]),
        ("emulator.testing", "emulator.testing", ["start_emulator", "EmulatorOptions"]),
        ("emulator.errors", "emulator.errors", ["ApiError", "BadParam", "TaskFailed"]),
    ],
)
def test_old_paths_name_the_same_objects(old: str, new: str, names: list[str]) -> None:
    before, after = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        assert getattr(before, name) is getattr(after, name)


def test_the_pytest_plugin_and_demo_modules_import() -> None:
    plugin = importlib.import_module("emulator.pytest_plugin")
    assert hasattr(plugin, "transcode_client")
    assert callable(importlib.import_module("emulator.demo").main)
