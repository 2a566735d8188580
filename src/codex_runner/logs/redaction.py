"""Secrets out of everything the logs write: values under secret-looking keys, and text that
looks like an API key, a bearer token or a JWT.

Every log layer passes its records through :func:`redact` before they are queued for a
file, so a secret that slips into an exception message, an RPC line or a Slack event never
reaches the disk. :func:`bounded_json` cuts a raw record past ``[logs] raw_max_bytes``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

REDACTED = "[redacted]"

# What API keys and bearer tokens look like: OpenAI-style keys, Authorization values, JWTs,
# Slack tokens.
SECRET_TEXT = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-~+/=]{8,}"
    r"|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-.]+"
    r"|xox[abposr]-[A-Za-z0-9\-]{8,}|xapp-[A-Za-z0-9\-]{8,})"
)

SECRET_KEY = re.compile(
    r"(api[_-]?key|token|secret|password|passwd|authorization|cookie|credential|private[_-]?key)",
    re.IGNORECASE,
)


# Counts of model tokens are not secrets: keep usage figures readable.
_COUNTS_KEY = re.compile(r"tokens(\b|_)|token_?usage", re.IGNORECASE)


def secret_key(key: object) -> bool:
    """Whether values under ``key`` are masked whole (``api_key``, ``Authorization``…)."""
    text = str(key)
    return bool(SECRET_KEY.search(text)) and not _COUNTS_KEY.search(text)


def mask_strings(value: Any) -> Any:
    """A copy of a JSON value with secret-looking text masked in every string (keys kept):
    for records whose keys are the record's own, like a task's events."""
    if isinstance(value, dict):
        return {k: mask_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_strings(v) for v in value]
    if isinstance(value, str):
        return mask_secrets(value)
    return value


def mask_secrets(text: str) -> str:
    """``text`` with anything that looks like an API key or bearer token replaced."""
    return SECRET_TEXT.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """A copy of a JSON value with secret-looking keys' values and strings masked."""
    if isinstance(value, dict):
        return {
            k: REDACTED if secret_key(k) and v not in (None, "") else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return mask_secrets(value)
    return value


def bounded_json(record: dict[str, Any], max_bytes: int) -> bytes:
    """``record`` as one JSON line of at most about ``max_bytes``: a record past it keeps its
    small fields and the head of its largest field's JSON text, marked ``truncated``."""
    line = orjson.dumps(record, default=str)
    if len(line) <= max_bytes:
        return line
    largest = max(record, key=lambda k: len(orjson.dumps(record[k], default=str)))
    rest = {k: v for k, v in record.items() if k != largest}
    room = max(0, max_bytes - len(orjson.dumps(rest, default=str)) - 64)
    text = orjson.dumps(record[largest], default=str).decode("utf-8", errors="replace")
    # Cut on characters, then re-check bytes: multi-byte text must not run past the cap.
    head = text[:room]
    while len(head.encode()) > room and head:
        head = head[: len(head) - max(1, (len(head.encode()) - room) // 4)]
    cut = {**rest, largest: head, "truncated": len(line)}
    return orjson.dumps(cut, default=str)
