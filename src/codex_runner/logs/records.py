"""A daemon log record as the layered logs write it, and which task or session it is about.

A record is about a task or a chat session when it says so: ``extra={"task_id": ...}`` or
``extra={"session_key": ...}``, the same keys in ``extra={"fields": {...}}``, or a
:func:`log_context` around the code that logs (a context variable, so it follows the
asyncio task that set it and nothing else).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from codex_runner.logs.redaction import redact

LEVELS = ("debug", "info", "warning", "error", "critical")
_CONTEXT: ContextVar[Mapping[str, str] | None] = ContextVar("log_context", default=None)
ABOUT_KEYS = ("task_id", "session_key")


def level_rank(level: str) -> int:
    """The order of ``level`` among :data:`LEVELS`; ValueError naming the choices."""
    try:
        return LEVELS.index(level.lower())
    except ValueError:
        raise ValueError(f"unknown log level {level!r}: one of {', '.join(LEVELS)}") from None


@contextlib.contextmanager
def log_context(**about: str) -> Iterator[None]:
    """Records logged inside are about ``task_id`` and/or ``session_key``."""
    unknown = set(about) - set(ABOUT_KEYS)
    if unknown:
        raise ValueError(f"log_context takes {', '.join(ABOUT_KEYS)}, not {sorted(unknown)}")
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **about})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def about(record: logging.LogRecord) -> dict[str, str]:
    """The task id and session key ``record`` is about, where known."""
    found = dict(_CONTEXT.get() or {})
    fields = getattr(record, "fields", None)
    for key in ABOUT_KEYS:
        value = getattr(record, key, None)
        if value is None and isinstance(fields, dict):
            value = fields.get(key)
        if isinstance(value, str) and value:
            found[key] = value
    return found


def record_dict(
    record: logging.LogRecord, exception: str | None, about_: Mapping[str, str], at: float
) -> dict[str, Any]:
    """The JSON object written for ``record`` (logged at ``at``), redacted."""
    entry: dict[str, Any] = {
        "at": datetime.fromtimestamp(at, UTC).isoformat(),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
        **about_,
    }
    fields = getattr(record, "fields", None)  # logged with extra={"fields": {...}}
    if isinstance(fields, dict):
        entry["fields"] = fields
    if exception:
        entry["exception"] = exception
    redacted: dict[str, Any] = redact(entry)
    return redacted
