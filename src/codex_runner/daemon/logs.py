"""The daemon's global structured log: JSON lines in ``$CODEX_RUNNER_HOME/logs/runner.jsonl``.

Size-capped with rotation. Messages pass through the same redaction as the RPC log, so a
secret that slips into an exception message still never reaches the file.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime
from pathlib import Path

from codex_runner.codex.rpc_log import REDACTED, redact

LOG_FILE = "runner.jsonl"
MAX_BYTES = 20 * 1024 * 1024
BACKUPS = 3


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)  # logged with extra={"fields": {...}}
        if isinstance(fields, dict):
            entry["fields"] = redact(fields)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def install(logs_dir: Path, level: int = logging.INFO) -> logging.Handler:
    """Send the ``codex_runner`` loggers to the JSON log; returns the handler (to remove)."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        logs_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(JsonLineFormatter())
    handler.setLevel(level)
    logger = logging.getLogger("codex_runner")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    return handler


__all__ = ["REDACTED", "JsonLineFormatter", "install"]
