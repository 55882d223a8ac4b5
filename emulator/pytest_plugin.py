"""pytest plugin (entry point pytest11): fixtures that start and drive a real emulator."""

from __future__ import annotations
