"""Tests of emulator/db: queries on generated task tables, on both backends."""
