"""The HTTP status behind a model error, and a failure reason that says it. Pure functions.

What Codex 0.163 tells about a model provider's HTTP error (observed against the scripted
model with retries off):

- 500: only "We're currently experiencing high demand, which may cause temporary errors."
  with ``codexErrorInfo: "internalServerError"`` (app-server; exec prints the text alone).
  Codex drops the response body and logs neither it nor the status, at any ``RUST_LOG``
  level: the reason can name the status but not the body.
- 400: the response body's ``error.message`` (or the body) as the whole message,
  ``codexErrorInfo: "other"``.
- 429 after the retries: "exceeded retry limit, last status: 429 Too Many Requests",
  ``{"responseTooManyFailedAttempts": {"httpStatusCode": 429}}``.
- Other statuses: "unexpected status 502 Bad Gateway: <body>, url: <url>",
  ``{"httpConnectionFailed": {"httpStatusCode": 502}}``.

Bodies can echo a key, so every message is passed through
:func:`~codex_runner.codex.safe_text.safe_text` first.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from codex_runner.codex.safe_text import safe_text

# Longest error message kept from Codex (a provider's body included).
MAX_ERROR_CHARS = 2000

# Codex's words for an HTTP 500, which it uses for nothing else.
_HTTP_500_TEXT = re.compile(r"currently experiencing high demand", re.I)
_STATUS_IN_TEXT = re.compile(r"(?:unexpected status|last status:?)\s+(\d{3})\b", re.I)
_STATUS_OF_INFO = {"internalServerError": 500}


def http_status_of(codex_error_info: Any) -> int | None:
    """The HTTP status in an app-server ``codexErrorInfo``, when it carries one."""
    if isinstance(codex_error_info, str):
        return _STATUS_OF_INFO.get(codex_error_info)
    if isinstance(codex_error_info, dict):
        for value in codex_error_info.values():
            status = value.get("httpStatusCode") if isinstance(value, dict) else None
            if isinstance(status, int) and 100 <= status <= 599:
                return status
    return None


def http_status_in(message: str) -> int | None:
    """The HTTP status Codex's message names (or implies, for a 500), if any."""
    if match := _STATUS_IN_TEXT.search(message):
        return int(match.group(1))
    if _HTTP_500_TEXT.search(message):
        return 500
    return None


def _status_line(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def model_error_message(message: str, status: int | None) -> str:
    """A failure reason from Codex's ``message`` that names the HTTP status, when known.

    A message that already names the status (and carries the body) is kept as Codex wrote
    it; Codex's generic text for a 500 is said to be one, since it hides both.
    """
    text = safe_text(message, MAX_ERROR_CHARS)
    if status is None or str(status) in text:
        return text
    if status == 500 and _HTTP_500_TEXT.search(text):
        return (
            f"the model provider answered {_status_line(status)}; Codex passed on no "
            f"response body and said: {text}"
        )
    return f"the model provider answered {_status_line(status)}: {text}"
