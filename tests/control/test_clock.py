"""The emulator clock: offset or frozen task times, so time-window tests never wait."""

from __future__ import annotations

import time

import pytest

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.errors import BadParam

FROZEN = 1_600_000_000  # 2020-09-13 12:26:40 UTC


@pytest.fixture
def storage(api: TranscodeClient) -> str:
    return api.add_storage("cn-hz", "s3", "out").storage_id


def create(api: TranscodeClient, storage: str) -> str:
    return api.create_task("480p", "http://127.0.0.1:1/a.mp4", "a.mp4", storage).task_id


def test_frozen_clock_stamps_tasks(
    api: TranscodeClient, control: ControlClient, storage: str
) -> None:
    clock = control.set_clock(frozen_at=FROZEN)
    assert (clock.now, clock.frozen_at) == (FROZEN, FROZEN)
    task_id = create(api, storage)
    assert task_id.startswith("20200913202640")  # UTC+8 (SPEC.md section 5)
    assert api.query_task(task_id).create_time == FROZEN
    listed = api.list_task(FROZEN - 1, FROZEN + 1)
    assert [t.task_id for t in listed.list] == [task_id]
    assert listed.list[0].create_time == "2020-09-13 12:26:40"


def test_offset_shifts_the_clock(
    api: TranscodeClient, control: ControlClient, storage: str
) -> None:
    clock = control.set_clock(offset_s=-86_400)
    assert clock.offset_s == -86_400
    assert abs(clock.now - (time.time() - 86_400)) < 5
    created = api.query_task(create(api, storage)).create_time
    assert abs(created - (time.time() - 86_400)) < 5
    now = int(time.time())
    assert api.list_task(now - 3600, now).num == 0
    assert api.list_task(now - 90_000, now - 80_000).num == 1


def test_advance_moves_a_frozen_clock(control: ControlClient) -> None:
    control.set_clock(frozen_at=FROZEN)
    assert control.set_clock(advance_s=3600).frozen_at == FROZEN + 3600
    control.set_clock(offset_s=10)
    assert control.set_clock(advance_s=5).offset_s == 15


def test_clear_and_reset_restore_the_real_clock(control: ControlClient) -> None:
    control.set_clock(frozen_at=FROZEN)
    assert control.clear_clock().frozen_at is None
    control.set_clock(offset_s=100)
    assert control.send("POST", "/clock", json={}).json()["offset_s"] is None
    control.set_clock(frozen_at=FROZEN)
    control.reset()
    clock = control.clock()
    assert (clock.offset_s, clock.frozen_at) == (None, None)
    assert abs(clock.now - time.time()) < 5


def test_one_setting_at_a_time(control: ControlClient) -> None:
    with pytest.raises(BadParam, match="one of"):
        control.set_clock(offset_s=1, frozen_at=FROZEN)


def test_signature_date_check_keeps_the_real_clock(
    api: TranscodeClient, control: ControlClient
) -> None:
    control.set_clock(offset_s=-7 * 86_400)
    assert api.list_storage().num == 0  # signed with the real time: still accepted
