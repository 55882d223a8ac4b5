"""Access keys through the control API: create, disable, enable, delete; changes apply at once."""

from __future__ import annotations

import pytest

from emulator.client import TranscodeClient
from emulator.control_client import ControlClient
from emulator.errors import AuthFail, BadParam, Duplicated, EmptyResult, OperationFail
from emulator.server import EmulatorServer


def client_for(emulator: EmulatorServer, access_key_id: str, secret: str) -> TranscodeClient:
    return TranscodeClient(emulator.base_url, access_key_id, secret)


def test_list_shows_the_configured_key_without_its_secret(
    control: ControlClient, emulator: EmulatorServer
) -> None:
    keys = control.list_keys()
    assert [(k.access_key_id, k.enabled, k.configured) for k in keys] == [
        (emulator.settings.access_key_id, True, True)
    ]
    assert "access_key_secret" not in keys[0].model_dump()


def test_created_pair_signs_requests(control: ControlClient, emulator: EmulatorServer) -> None:
    pair = control.create_key()
    assert (len(pair.access_key_id), len(pair.access_key_secret)) == (16, 32)
    with client_for(emulator, pair.access_key_id, pair.access_key_secret) as client:
        assert client.list_storage().num == 0


def test_create_with_a_chosen_pair(control: ControlClient) -> None:
    pair = control.create_key("TESTAKID00000001", "s" * 32)
    assert (pair.access_key_id, pair.access_key_secret) == ("TESTAKID00000001", "s" * 32)
    with pytest.raises(Duplicated, match="TESTAKID00000001"):
        control.create_key("TESTAKID00000001")


@pytest.mark.parametrize(
    ("key_id", "secret", "field"),
    [
        ("short", None, "access_key_id"),
        (None, "x" * 31, "access_key_secret"),
        ("A" * 15 + ",", None, "access_key_id"),
    ],
)
def test_create_refuses_bad_pairs(
    control: ControlClient, key_id: str | None, secret: str | None, field: str
) -> None:
    with pytest.raises(BadParam, match=field):
        control.create_key(key_id, secret)


def test_disabled_key_gets_1003_saying_so_and_enable_restores_it(
    control: ControlClient, emulator: EmulatorServer
) -> None:
    pair = control.create_key()
    with client_for(emulator, pair.access_key_id, pair.access_key_secret) as client:
        client.list_storage()  # cached by the key ring: the change must still apply at once
        assert control.disable_key(pair.access_key_id).enabled is False
        with pytest.raises(AuthFail, match="is disabled"):
            client.list_storage()
        assert control.enable_key(pair.access_key_id).enabled is True
        assert client.list_storage().num == 0


def test_deleted_key_is_unknown(control: ControlClient, emulator: EmulatorServer) -> None:
    pair = control.create_key()
    control.delete_key(pair.access_key_id)
    assert pair.access_key_id not in [k.access_key_id for k in control.list_keys()]
    with (
        client_for(emulator, pair.access_key_id, pair.access_key_secret) as client,
        pytest.raises(AuthFail, match="unknown AccessKeyId"),
    ):
        client.list_storage()


def test_configured_key_cannot_be_disabled_or_deleted(
    control: ControlClient, emulator: EmulatorServer
) -> None:
    configured = emulator.settings.access_key_id
    with pytest.raises(OperationFail, match="configured key"):
        control.disable_key(configured)
    with pytest.raises(OperationFail, match="configured key"):
        control.delete_key(configured)


def test_unknown_key_is_404(control: ControlClient) -> None:
    response = control.send("POST", "/keys/NOSUCHKEY0000001/disable")
    assert response.status_code == 404
    assert response.json()["code"] == EmptyResult.code
    with pytest.raises(EmptyResult):
        control.delete_key("NOSUCHKEY0000001")


def test_keys_survive_reset(control: ControlClient) -> None:
    pair = control.create_key()
    control.reset()
    assert pair.access_key_id in [k.access_key_id for k in control.list_keys()]
