"""The console of `serve` and `worker`: a line per request and per task transition.

    EMULATOR_LOG_FORMAT=text   02:10:11 GET /api/query_task 200 code=0 1.2 ms auth=primary
                               02:10:12 task 2026…e4 running → uploading 0.79 s
    EMULATOR_LOG_FORMAT=json   one JSON object a line, the same facts as fields

Requests are logged by RequestContext (emulator.requests), transitions once committed by
db/tasks.py (emulator.tasks). uvicorn's own access log stays off, so nothing is said twice.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from emulator.config import Settings

# Fields a record may carry for the JSON format (logging's `extra=`).
FIELDS = (
    "method",
    "path",
    "status",
    "code",
    "ms",
    "auth",
    "request_id",
    "task_id",
    "from",
    "to",
    "seconds",
    "err_code",
)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = "" if record.levelno == logging.INFO else f"{record.levelname} "
        text = f"{stamp} {level}{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: record.__dict__[name] for name in FIELDS if name in record.__dict__})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(settings: Settings) -> None:
    """Send the emulator's log records to stderr in the chosen format, at the chosen level."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if settings.log_format == "json" else TextFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries speak up only when something is wrong
    logging.getLogger("emulator").setLevel(settings.log_level.upper())
