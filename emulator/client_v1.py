"""Moved to emulator.clients.v1; this import path stays for the code written against it."""

from emulator.clients.v1 import (
    FINAL_STATUSES,
    PREFIX,
    TranscodeClientV1,
    basic_authorization,
)

__all__ = [
    "FINAL_STATUSES",
    "PREFIX",
    "TranscodeClientV1",
    "basic_authorization",
]
