"""Moved to emulator.clients.models; this import path stays for the code written against it."""

from emulator.clients.models import (
    FINAL_STATUSES,
    STATUSES,
    Result,
    Storage,
    StorageCreated,
    StorageList,
    StorageTypes,
    Summary,
    SummaryBucket,
    Task,
    TaskCreated,
    TaskList,
    TaskListItem,
    Template,
    TemplateList,
)

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "Result",
    "Storage",
    "StorageCreated",
    "StorageList",
    "StorageTypes",
    "Summary",
    "SummaryBucket",
    "Task",
    "TaskCreated",
    "TaskList",
    "TaskListItem",
    "Template",
    "TemplateList",
]
