"""Moved to emulator.clients.api; this import path stays for the code written against it."""

from emulator.clients.api import (
    ApiError,
    OutputUnavailable,
    Storage,
    Task,
    TaskTimeout,
    Template,
    TranscodeClient,
    playlist_references,
    unwrap,
)

__all__ = [
    "ApiError",
    "OutputUnavailable",
    "Storage",
    "Task",
    "TaskTimeout",
    "Template",
    "TranscodeClient",
    "playlist_references",
    "unwrap",
]
