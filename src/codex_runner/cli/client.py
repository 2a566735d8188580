"""A small synchronous client of the daemon's HTTP API, for the CLI.

Every call has a timeout and returns the API's own response models; every failure becomes
one :class:`ClientError` whose message is a single line a user can act on.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Collection, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import httpx
import typer
from pydantic import BaseModel, ValidationError

from codex_runner.cli.render import error_exit
from codex_runner.config import ConfigError, default_home, load_config
from codex_runner.domain.durable_event import STATE_CHANGE_TYPES
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import (
    ApprovalList,
    ApprovalOut,
    DecisionBody,
    DiffOut,
    ErrorOut,
    EventList,
    EventOut,
    GcBody,
    GcOut,
    GraphCreate,
    GraphOut,
    PromptBody,
    ResumeBody,
    StatusOut,
    TaskCreate,
    TaskList,
    TaskOut,
)
from codex_runner.runner_home.api_token import TokenMissing, read_token
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.secret_files import UnsafeSecretFile

URL_ENV = "CODEX_RUNNER_URL"
CALL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The server sends keepalive comments well inside this; silence this long means a dead link.
STREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=10.0, pool=5.0)
MAX_RECONNECTS = 5
RECONNECT_BASE_DELAY_S = 0.1
RECONNECT_MAX_DELAY_S = 5.0
EVENT_PAGE = 500

M = TypeVar("M", bound=BaseModel)


class ClientError(Exception):
    """A call to the daemon failed; ``str()`` is one line that says what to do.

    ``status`` and ``code`` are the HTTP status and the API's error code when the daemon
    answered with an error.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(" ".join(message.split()))
        self.status = status
        self.code = code


class DaemonLost(ClientError):
    """Following a task, the daemon went away: the stream closed and reconnecting failed."""


class _StreamDropped(Exception):
    """The event stream broke in a way a reconnect may fix."""


def resolve_url(home: Path, url: str | None = None) -> str:
    """Where the daemon listens: ``url`` (a flag), ``$CODEX_RUNNER_URL``, the running
    daemon's ``daemon.json``, else ``[service] host/port`` from the configuration."""
    explicit = url or os.environ.get(URL_ENV)
    if explicit:
        return explicit.rstrip("/")
    info = running_daemon(home)
    if info is not None:
        return info.url.rstrip("/")
    try:
        service = load_config(home).service
    except ConfigError as exc:
        raise ClientError(str(exc)) from None
    host = f"[{service.host}]" if ":" in service.host else service.host
    return f"http://{host}:{service.port}"


class DaemonClient:
    """Typed calls to the daemon's ``/v1`` API. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_reconnects: int = MAX_RECONNECTS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_reconnects = max_reconnects
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=CALL_TIMEOUT,
            transport=transport,
            trust_env=False,  # a proxy from the environment must not see the token
        )

    @classmethod
    def connect(cls, url: str | None = None, home: Path | None = None) -> DaemonClient:
        """A client for the daemon of runner home ``home`` (default ``$CODEX_RUNNER_HOME``)."""
        home = home or default_home()
        base_url = resolve_url(home, url)
        try:
            token = read_token(home)
        except (TokenMissing, UnsafeSecretFile) as exc:
            raise ClientError(str(exc)) from None
        except OSError as exc:
            raise ClientError(f"cannot read the API token under {home}: {exc}") from None
        return cls(base_url, token)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- service ---------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        response = self._request("GET", "/healthz")
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {"body": body}

    def status(self) -> StatusOut:
        return self._call(StatusOut, "GET", "/v1/status")

    def gc(self, body: GcBody) -> GcOut:
        return self._call(GcOut, "POST", "/v1/gc", body=body)

    # --- tasks -----------------------------------------------------------------------------

    def submit_task(self, body: TaskCreate) -> tuple[TaskOut, bool]:
        """The task and whether this call created it (False: an idempotent re-submit)."""
        response = self._request("POST", "/v1/tasks", body=body)
        return self._parse(TaskOut, response), response.status_code == 201

    def list_tasks(
        self, states: Sequence[str] = (), *, limit: int | None = None, offset: int | None = None
    ) -> TaskList:
        params: list[tuple[str, str | int]] = [("state", s) for s in states]
        if limit is not None:
            params.append(("limit", limit))
        if offset is not None:
            params.append(("offset", offset))
        return self._call(TaskList, "GET", "/v1/tasks", params=params)

    def get_task(self, task_id: str) -> TaskOut:
        return self._call(TaskOut, "GET", f"/v1/tasks/{_seg(task_id)}")

    def events(self, task_id: str, *, after: int = 0, limit: int | None = None) -> EventList:
        params: list[tuple[str, str | int]] = [("after", after)]
        if limit is not None:
            params.append(("limit", limit))
        return self._call(EventList, "GET", f"/v1/tasks/{_seg(task_id)}/events", params=params)

    def all_events(self, task_id: str, *, after: int = 0) -> Iterator[EventOut]:
        """Every stored event after ``after``, page by page."""
        while True:
            page = self.events(task_id, after=after, limit=EVENT_PAGE)
            fresh = [e for e in page.events if e.seq > after]
            yield from fresh
            if not fresh:
                return
            after = max(page.last_seq, fresh[-1].seq)

    def interrupt(self, task_id: str) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/interrupt")

    def cancel(self, task_id: str) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/cancel")

    def resume(self, task_id: str, body: ResumeBody) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/resume", body=body)

    def steer(self, task_id: str, body: PromptBody) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/steer", body=body)

    def message(self, task_id: str, body: PromptBody) -> TaskOut:
        return self._call(TaskOut, "POST", f"/v1/tasks/{_seg(task_id)}/message", body=body)

    def diff(self, task_id: str) -> DiffOut:
        return self._call(DiffOut, "GET", f"/v1/tasks/{_seg(task_id)}/diff")

    # --- approvals and graphs --------------------------------------------------------------

    def approvals(
        self, state: str | None = "pending", *, task_id: str | None = None
    ) -> ApprovalList:
        params: list[tuple[str, str | int]] = [("state", state)] if state else []
        if task_id is not None:
            params.append(("task_id", task_id))
        return self._call(ApprovalList, "GET", "/v1/approvals", params=params)

    def decide(self, approval_id: str, body: DecisionBody) -> ApprovalOut:
        return self._call(ApprovalOut, "POST", f"/v1/approvals/{_seg(approval_id)}", body=body)

    def create_graph(self, body: GraphCreate) -> GraphOut:
        return self._call(GraphOut, "POST", "/v1/graphs", body=body)

    def get_graph(self, graph_id: str) -> GraphOut:
        return self._call(GraphOut, "GET", f"/v1/graphs/{_seg(graph_id)}")

    # --- the live event stream -------------------------------------------------------------

    def follow_events(
        self,
        task_id: str,
        *,
        after: int = 0,
        until_terminal: bool = True,
        until_states: Collection[TaskState] = (),
    ) -> Iterator[EventOut]:
        """The task's events after ``after``, live, over Server-Sent Events.

        A dropped connection is resumed with ``Last-Event-ID`` (at most ``max_reconnects``
        times in a row, with backoff; each received event resets the count). Events are
        yielded in order and never twice. With ``until_terminal`` the iterator ends once the
        task is in a terminal state, or in one of ``until_states`` (states that wait for a
        person, which the server does not end a stream on), and every event up to then was
        yielded. Raises :class:`DaemonLost` when the daemon stays unreachable.
        """
        last = after
        failures = 0
        while True:
            problem = "the daemon closed the event stream"
            clean = False
            stopped = False
            try:
                with contextlib.closing(self._stream_once(task_id, last, until_terminal)) as stream:
                    for event in stream:
                        if event.seq <= last:
                            continue  # a resumed stream may repeat what we already have
                        last = event.seq
                        failures = 0
                        yield event
                        if until_terminal and _enters(event, until_states):
                            stopped = self._settled_in(task_id, until_states)
                            if stopped:
                                break
                clean = True
            except _StreamDropped as exc:
                problem = str(exc)
            if not until_terminal and clean:
                return
            if until_terminal:
                # The stream ended: the task finished (the server closes it then), it waits
                # for a person, or the connection was lost. The task's state tells which.
                try:
                    settled = stopped or self._settled_in(task_id, until_states)
                except ClientError as exc:
                    if exc.status is not None and exc.status < 500:
                        raise
                    problem = str(exc)
                else:
                    if settled:
                        for event in self.all_events(task_id, after=last):
                            last = event.seq
                            yield event
                        return
            failures += 1
            if failures > self.max_reconnects:
                raise DaemonLost(
                    f"lost the daemon at {self.base_url} while following task {task_id} "
                    f"({failures} failed attempts in a row: {problem})"
                )
            time.sleep(min(RECONNECT_MAX_DELAY_S, RECONNECT_BASE_DELAY_S * 2 ** (failures - 1)))

    def _settled_in(self, task_id: str, states: Collection[TaskState]) -> bool:
        """Whether the task is now terminal or in one of ``states``."""
        state = self.get_task(task_id).state
        return state.is_terminal or state in states

    def _stream_once(
        self, task_id: str, after: int, until_terminal: bool
    ) -> Generator[EventOut, None, None]:
        path = f"/v1/tasks/{_seg(task_id)}/events/stream"
        params = {"after": after, "until_terminal": "true" if until_terminal else "false"}
        # Connection: close, so a stream's connection never goes back to the pool: after the
        # server ends a stream, the next call must not race the server closing that socket.
        headers = {
            "Accept": "text/event-stream",
            "Last-Event-ID": str(after),
            "Connection": "close",
        }
        try:
            with self._http.stream(
                "GET", path, params=params, headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status_code >= 500:
                    response.read()
                    raise _StreamDropped(self._error_message(response))
                if response.status_code >= 400:
                    response.read()
                    self._raise_for_status(response)
                for data in _sse_data(response.iter_lines()):
                    try:
                        yield EventOut.model_validate_json(data)
                    except ValidationError as exc:
                        raise ClientError(
                            f"the daemon at {self.base_url} sent an event this client cannot "
                            f"read ({_first_error(exc)}); are the versions the same?"
                        ) from None
        except httpx.ConnectError:
            raise _StreamDropped(self._unreachable()) from None
        except httpx.TransportError as exc:
            raise _StreamDropped(f"{type(exc).__name__}: {exc}") from None

    # --- plumbing --------------------------------------------------------------------------

    def _call(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Sequence[tuple[str, str | int]] = (),
    ) -> M:
        return self._parse(model, self._request(method, path, body=body, params=params))

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: Sequence[tuple[str, str | int]] = (),
    ) -> httpx.Response:
        content = body.model_dump_json(exclude_unset=True) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._http.request(
                method, path, content=content, headers=headers, params=list(params)
            )
        except httpx.ConnectError:
            raise ClientError(self._unreachable()) from None
        except httpx.TimeoutException:
            raise ClientError(
                f"the daemon at {self.base_url} did not answer {method} {path} in time"
            ) from None
        except httpx.TransportError as exc:
            raise ClientError(
                f"lost the connection to the daemon at {self.base_url}: {exc}"
            ) from None
        self._raise_for_status(response)
        return response

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ClientError(
                f"the daemon at {self.base_url} answered with a {model.__name__} this client "
                f"cannot read ({_first_error(exc)}); are the versions the same?"
            ) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        code = None
        with contextlib.suppress(ValidationError):
            code = ErrorOut.model_validate_json(response.content).error.code
        raise ClientError(self._error_message(response), status=response.status_code, code=code)

    def _error_message(self, response: httpx.Response) -> str:
        try:
            detail = ErrorOut.model_validate_json(response.content).error
        except ValidationError:
            return _fallback_error(response)
        if detail.field:
            return f"{detail.message} (field: {detail.field})"
        return detail.message

    def _unreachable(self) -> str:
        return f"cannot reach the daemon at {self.base_url}: start it with `codex-runner serve`"


def _enters(event: EventOut, states: Collection[TaskState]) -> bool:
    """Whether ``event`` moves the task into one of ``states``."""
    return event.type in STATE_CHANGE_TYPES and event.data.get("to") in states


def _seg(value: str) -> str:
    return quote(value, safe="")


def _first_error(exc: ValidationError) -> str:
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


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` of each Server-Sent Event; comments (keepalives) and other fields are
    skipped, multi-line data is joined with newlines."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    # An event without its closing blank line was cut off; it is read again on resume.


UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=f"The daemon's URL (default: ${URL_ENV}, the running daemon, then the "
        "configured service host and port).",
        show_default=False,
    ),
]


@contextmanager
def daemon_session(url: str | None = None) -> Iterator[DaemonClient]:
    """A connected client for one CLI command; a ClientError ends the command with its one
    line on stderr and exit status 1."""
    try:
        with DaemonClient.connect(url) as client:
            yield client
    except ClientError as exc:
        raise error_exit(str(exc), 1) from None


def request_body(model: type[M], values: dict[str, Any], names: dict[str, str]) -> M:
    """``model`` from the values a user gave (unset ones left to the server's defaults); a
    value the API contract refuses is a usage error naming the flag (``names``: field to
    flag) with exit status 2."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        flag = names.get(field, "--" + field.replace("_", "-"))
        raise error_exit(f"{flag}: {first['msg']}", 2) from None
