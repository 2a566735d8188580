"""What a failed call to the daemon says: one line a user can act on.

The daemon answers errors as the API's ``ErrorOut``; anything else in front of it (a proxy,
an older daemon) gets the best line its body allows.
"""

from __future__ import annotations

import contextlib
import json

import httpx
from pydantic import ValidationError

from codex_runner.http.wire import ErrorOut


class ClientError(Exception):
    """A call to the daemon failed; ``str()`` is one line that says what to do.

    ``status`` and ``code`` are the HTTP status and the API's error code when the daemon
    answered with an error; ``unanswered`` names how the request failed when it did not
    answer at all (``ConnectError``, ``ReadTimeout``...).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        unanswered: str | None = None,
    ):
        super().__init__(" ".join(message.split()))
        self.status = status
        self.code = code
        self.unanswered = unanswered


class DaemonLost(ClientError):
    """Following a task, the daemon went away: the stream closed and reconnecting failed."""


def raise_for_status(response: httpx.Response) -> None:
    """A :class:`ClientError` with the daemon's message, status and code for an error answer."""
    if response.status_code < 400:
        return
    code = None
    with contextlib.suppress(ValidationError):
        code = ErrorOut.model_validate_json(response.content).error.code
    raise ClientError(error_message(response), status=response.status_code, code=code)


def error_message(response: httpx.Response) -> str:
    try:
        detail = ErrorOut.model_validate_json(response.content).error
    except ValidationError:
        return _fallback_error(response)
    if detail.field:
        return f"{detail.message} (field: {detail.field})"
    return detail.message


def unreachable(base_url: str) -> str:
    return f"cannot reach the daemon at {base_url}: start it with `codex-runner serve`"


def first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _fallback_error(response: httpx.Response) -> str:
    """A message for an error body that is not the API's ErrorOut (a proxy, an old daemon,
    the framework's own validation error)."""
    status = response.status_code
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        loc = ".".join(str(p) for p in detail[0].get("loc", ()) if p != "body")
        msg = str(detail[0].get("msg", "invalid request"))
        return f"{msg} (field: {loc})" if loc else msg
    if isinstance(detail, str):
        return f"{detail} (HTTP {status})"
    if status == 401:
        return "the daemon refused the API token (HTTP 401): is CODEX_RUNNER_HOME its home?"
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return f"the daemon answered HTTP {status}" + (f": {text}" if text else "")
