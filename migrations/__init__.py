"""Alembic migrations (shipped in the wheel as emulator.migrations)."""
