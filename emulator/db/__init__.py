"""Persistence: SQLModel tables, the engine and sessions, the task state machine and claims."""
