"""How the server writes its own log lines: for people (the default) or as JSON (`LOG_FORMAT=json`).

JSON lines carry the keys Cog's structured logs use (`logger`, `timestamp`, `severity`,
`message`), plus `prediction_id` when the record was logged with one
(`log.info(..., extra={"prediction_id": id})`) and `exception` when it carries a traceback.
One object per line, so a log collector can parse each line alone.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, TextIO

CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def wants_json(value: str | None) -> bool:
    """Whether a `LOG_FORMAT` value asks for JSON lines (any case; unset means console)."""
    return (value or "").strip().lower() == "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "logger": record.name,
            "timestamp": _timestamp(record.created),
            "severity": record.levelname,
            "message": record.getMessage(),
        }
        prediction_id = getattr(record, "prediction_id", None)
        if prediction_id is not None:
            entry["prediction_id"] = str(prediction_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a stray non-JSON value in a message argument must not lose the line.
        return json.dumps(entry, ensure_ascii=False, default=str)


def _timestamp(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def handler(stream: TextIO, log_format: str | None) -> logging.Handler:
    """A stream handler writing `log_format`'s lines (the `LOG_FORMAT` value) to `stream`."""
    out = logging.StreamHandler(stream)
    out.setFormatter(
        JsonFormatter() if wants_json(log_format) else logging.Formatter(CONSOLE_FORMAT)
    )
    return out
