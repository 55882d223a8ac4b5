"""Moved to emulator.clients.control; this import path stays for the code written against it."""

from emulator.clients.control import (
    PREFIX,
    CallbackTimeout,
    ControlClient,
    HeldStage,
    NoLongPoll,
    control_error,
)

__all__ = [
    "PREFIX",
    "CallbackTimeout",
    "ControlClient",
    "HeldStage",
    "NoLongPoll",
    "control_error",
]
