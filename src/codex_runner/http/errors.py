"""Every error the API returns is an :class:`~codex_runner.http.wire.ErrorOut`.

Service and domain errors map to a status and a stable code here, in one table; validation
errors name the first bad field; anything unexpected is logged and answered with a generic
500 that echoes nothing of the exception (messages may hold paths or secrets).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from codex_runner.domain.approval import ApprovalAlreadySettled, DecisionNotOffered
from codex_runner.domain.transitions import InvalidTransition
from codex_runner.http.routing import InvalidInput, UnsupportedBody, model_response
from codex_runner.http.wire import ErrorDetail, ErrorOut
from codex_runner.service.errors import (
    GraphNotFound,
    IdempotencyKeyReused,
    InvalidRequest,
    NoAppServer,
    NotAttachable,
    TaskNotRunning,
)
from codex_runner.service.home_watch import HomeUnavailable
from codex_runner.store.errors import ApprovalNotFound, StoreBusy, StoreClosed, TaskNotFound
from codex_runner.workspace.protocol import WorkspaceError

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "internal error: the daemon logged the details; see its log"

# (exception type, status, code, field): the field when the exception does not carry one.
_MAPPED: tuple[tuple[type[Exception], int, str, str | None], ...] = (
    (InvalidRequest, 422, "invalid_request", None),
    (DecisionNotOffered, 422, "decision_not_offered", "decision"),
    (TaskNotFound, 404, "not_found", None),
    (ApprovalNotFound, 404, "not_found", None),
    (GraphNotFound, 404, "not_found", None),
    (InvalidTransition, 409, "invalid_transition", None),
    (TaskNotRunning, 409, "task_not_running", None),
    (NotAttachable, 409, "not_attachable", None),
    (NoAppServer, 409, "no_app_server", None),
    (IdempotencyKeyReused, 409, "idempotency_conflict", "idempotency_key"),
    (ApprovalAlreadySettled, 409, "approval_settled", None),
    (WorkspaceError, 409, "workspace_error", None),
    (StoreClosed, 503, "unavailable", None),
    (HomeUnavailable, 503, "home_unavailable", None),
)

_HTTP_CODES: Mapping[int, str] = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
}

# Documented on every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorOut, "description": "No such task, approval or graph."},
    409: {"model": ErrorOut, "description": "Not allowed in the current state."},
    422: {"model": ErrorOut, "description": "Invalid request; `field` names the input."},
    503: {"model": ErrorOut, "description": "Unavailable for now; retry (see Retry-After)."},
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = ErrorOut(error=ErrorDetail(code=code, message=message, field=field))
    response = model_response(body, status)
    if headers:
        response.headers.update(headers)
    return response


def field_name(loc: Sequence[int | str]) -> str:
    """``("body", "children", 0, "key")`` -> ``children[0].key``; ``("query", "state", 0)``
    -> ``state``; a bad body as a whole is ``body``."""
    if not loc:
        return "request"
    where, rest = loc[0], list(loc[1:])
    if where != "body":
        return str(rest[0]) if rest else str(where)
    name = ""
    for part in rest:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def validation_message(error: Mapping[str, Any], field: str) -> str:
    if error.get("type") == "json_invalid":
        return f"the body is not valid JSON: {error.get('ctx', {}).get('error', 'parse error')}"
    if error.get("type") == "missing" and field == "body":
        return "the request needs a JSON body"
    return f"field {field!r}: {error.get('msg', 'invalid value')}"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    errors = exc.errors
    first: Mapping[str, Any] = errors[0] if errors else {}
    loc = first.get("loc", ())
    field = "body" if first.get("type") == "json_invalid" else field_name(loc)
    return error_response(422, "invalid_request", validation_message(first, field), field)


async def _unsupported_body(request: Request, exc: Exception) -> Response:
    return error_response(
        415,
        "unsupported_media_type",
        f"the body is {exc}; send JSON with 'Content-Type: application/json'",
        "body",
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _store_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreBusy)
    headers = {"Retry-After": str(exc.retry_after_s)}
    return error_response(503, "store_busy", str(exc), headers=headers)


def _mapped_handler(status: int, code: str, default_field: str | None) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        field = exc.field if isinstance(exc, InvalidRequest) else default_field
        return error_response(status, code, str(exc), field)

    return handle


def error_handlers() -> dict[Any, ExceptionHandler]:
    """Exception type -> handler, for ``Starlette(exception_handlers=...)``."""
    handlers: dict[Any, ExceptionHandler] = {
        InvalidInput: _validation_error,
        UnsupportedBody: _unsupported_body,
        StarletteHTTPException: _http_error,
        StoreBusy: _store_busy,
    }
    for exc_type, status, code, field in _MAPPED:
        handlers[exc_type] = _mapped_handler(status, code, field)
    return handlers


class UnexpectedErrors:
    """ASGI middleware: an exception no handler knows becomes a logged, generic 500.

    Starlette's own last-resort handler re-raises after answering; this one answers and
    stops, so one bad request never reaches the server's error path. If the response has
    already started (a stream), there is nothing left to answer: log and end it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return
            await error_response(500, "internal", INTERNAL_MESSAGE)(scope, receive, send)
