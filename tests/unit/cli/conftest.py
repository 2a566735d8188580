"""A fake daemon for the CLI: the API's routes, built from the same schema models, served
by uvicorn on 127.0.0.1 in a background thread; and a runner home that points at it.

The fake keeps what it was asked (``requests``, ``streams``) so tests can check what the CLI
sent. Its SSE route can drop the connection mid-stream to exercise resumption.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner, Result

from codex_runner.cli.main import app as cli_app
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import (
    ApprovalList,
    ApprovalOut,
    DecisionBody,
    DiffOut,
    ErrorDetail,
    ErrorOut,
    EventList,
    EventOut,
    FileChangeOut,
    GcBody,
    GcOut,
    GraphCreate,
    GraphOut,
    MessageBody,
    PromptBody,
    RemovedWorktreeOut,
    ResumeBody,
    TaskCreate,
)
from codex_runner.http.wire_tasks import TaskList, TaskOut, UsageOut
from codex_runner.runner_home.daemon_info import DaemonInfo, write_info
from codex_runner.runner_home.secret_files import write_private

TOKEN = "cli-test-token"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
SERVER_STOP_TIMEOUT_S = 10.0

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V")


def task_out(task_id: str, **fields: Any) -> TaskOut:
    base: dict[str, Any] = {
        "id": task_id,
        "prompt": "fix the bug",
        "state": TaskState.QUEUED,
        "reason": None,
        "priority": 0,
        "repo": None,
        "base_ref": None,
        "cwd": "/tmp/work",
        "model": None,
        "effort": None,
        "sandbox": None,
        "approval_policy": None,
        "created_at": T0,
        "updated_at": T0,
        "started_at": None,
        "finished_at": None,
        "thread_id": None,
        "usage": UsageOut(
            input_tokens=0,
            cached_input_tokens=0,
            output_tokens=0,
            reasoning_output_tokens=0,
            total_tokens=0,
        ),
        "final_message": None,
        "branch": None,
        "diff_summary": None,
        "parent_id": None,
        "graph_id": None,
        "key": None,
        "depends_on": [],
        "max_runtime_s": 3600.0,
        "idempotency_key": None,
        "attempts": 0,
        "pending_message": None,
    }
    base.update(fields)
    return TaskOut.model_validate(base)


def event_out(task_id: str, seq: int, type_: str, data: dict[str, Any]) -> EventOut:
    return EventOut(task_id=task_id, seq=seq, type=type_, at=T0 + timedelta(seconds=seq), data=data)


def sse(event: EventOut) -> bytes:
    return f"id: {event.seq}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()


class DropConnection(Exception):
    """Raised inside a streaming body: the server aborts the response mid-stream."""


@dataclass
class StreamPlan:
    """What the SSE route does on each connection to one task's stream.

    ``drop_after``: on the first connection (on every one with ``always_drop``), send events
    up to this seq, then drop the connection. ``repeat``: on later connections, start this
    many events before the one the client asked for (a server that repeats itself must not
    make the client repeat itself).
    ``settle``: the state the task reaches once the last event was sent.
    """

    drop_after: int | None = None
    always_drop: bool = False
    repeat: int = 0
    settle: TaskState = TaskState.COMPLETED


@dataclass
class FakeDaemon:
    tasks: dict[str, TaskOut] = field(default_factory=dict)
    events: dict[str, list[EventOut]] = field(default_factory=dict)
    approvals: dict[str, ApprovalOut] = field(default_factory=dict)
    graphs: dict[str, GraphOut] = field(default_factory=dict)
    diffs: dict[str, DiffOut] = field(default_factory=dict)
    plans: dict[str, StreamPlan] = field(default_factory=dict)
    # Per task, live deltas (their JSON) a ?deltas=true stream sends after the event of a seq.
    deltas: dict[str, dict[int, list[dict[str, str]]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def add_task(self, task: TaskOut, events: list[EventOut] | None = None) -> TaskOut:
        self.tasks[task.id] = task
        self.events[task.id] = events or [
            event_out(task.id, 1, "task.created", {"prompt": task.prompt})
        ]
        return task

    def bodies(self, method: str, path: str) -> list[Any]:
        return [b for m, p, b in self.requests if m == method and p == path]


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body = ErrorOut(error=ErrorDetail(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(), status_code=status)


class BearerOnly:
    """Bearer auth as plain ASGI (a BaseHTTPMiddleware would end a dropped stream cleanly)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/healthz":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {TOKEN}".encode():
                response = _error(401, "unauthorized", "missing or wrong bearer token")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class InvalidRequest(Exception):
    """A request the fake refuses with 422 ``invalid_request`` (raised while reading it)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _invalid(exc: ValidationError, field: str | None = None) -> InvalidRequest:
    """The first error of ``exc`` as an InvalidRequest naming its field (or ``field``)."""
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    name = field or loc or "body"
    return InvalidRequest(name, f"{name}: {first['msg']}")


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body validated as ``model`` (an absent or empty body is invalid)."""
    raw = await request.body()
    if not raw:
        raise InvalidRequest("body", "body: Field required")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc) from exc


_INT: TypeAdapter[int] = TypeAdapter(int)
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


def query(request: Request, name: str, adapter: TypeAdapter[V], default: V) -> V:
    """Query parameter ``name`` parsed by pydantic's lax rules (``yes``, ``on``, ``1`` are true)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise _invalid(exc, name) from exc


def dump(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


Endpoint = Callable[[Request], Awaitable[Response]]


def route(path: str, method: str, endpoint: Endpoint) -> Route:
    """A route whose InvalidRequest becomes the 422 ``invalid_request`` error."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except InvalidRequest as exc:
            return _error(422, "invalid_request", exc.message, exc.field)

    return Route(path, guarded, methods=[method])


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer ``{"detail": ...}`` in JSON."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def build_app(fake: FakeDaemon) -> Starlette:
    def missing(kind: str, ident: str) -> JSONResponse:
        return _error(404, "not_found", f"no {kind} {ident}")

    def record(method: str, path: str, body: Any = None) -> None:
        fake.requests.append((method, path, body))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def submit(request: Request) -> Response:
        body = await read_body(request, TaskCreate)
        record("POST", "/v1/tasks", body.model_dump(exclude_unset=True))
        for task in fake.tasks.values():
            if body.idempotency_key and task.idempotency_key == body.idempotency_key:
                return dump(task, 200)
        task = task_out(
            f"t_{len(fake.tasks) + 1}",
            prompt=body.prompt or "",
            repo=body.repo,
            cwd=body.cwd,
            base_ref=body.base_ref,
            priority=body.priority,
            idempotency_key=body.idempotency_key,
        )
        fake.add_task(task)
        return dump(task, 201)

    async def list_tasks(request: Request) -> Response:
        state = request.query_params.getlist("state") or None
        limit = query(request, "limit", _INT, 100)
        offset = query(request, "offset", _INT, 0)
        asked = {"state": state, "limit": limit, "offset": offset}
        asked.update(
            (name, value)
            for name, value in request.query_params.items()
            if name == "purpose" or name.startswith("metadata.")
        )
        record("GET", "/v1/tasks", asked)
        tasks = [t for t in fake.tasks.values() if not state or t.state.value in state]
        return dump(TaskList(tasks=tasks[offset : offset + limit]))

    async def get_task(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        task = fake.tasks.get(task_id)
        return dump(task) if task is not None else missing("task", task_id)

    async def list_events(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        after = query(request, "after", _INT, 0)
        limit = query(request, "limit", _INT, 1000)
        if task_id not in fake.tasks:
            return missing("task", task_id)
        page = [e for e in fake.events[task_id] if e.seq > after][:limit]
        return dump(EventList(events=page, last_seq=page[-1].seq if page else after))

    async def stream(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        after = query(request, "after", _INT, 0)
        until_terminal = query(request, "until_terminal", _BOOL, False)
        with_deltas = query(request, "deltas", _BOOL, False)
        last_event_id = request.headers.get("Last-Event-ID")
        if task_id not in fake.tasks:
            return missing("task", task_id)
        number = sum(1 for s in fake.streams if s["task_id"] == task_id)
        fake.streams.append(
            {
                "task_id": task_id,
                "after": after,
                "last_event_id": last_event_id,
                "until_terminal": until_terminal,
                "deltas": with_deltas,
            }
        )
        plan = fake.plans.get(task_id, StreamPlan())
        start = int(last_event_id) if last_event_id is not None else after
        if number > 0:
            start = max(0, start - plan.repeat)
        events = [e for e in fake.events[task_id] if e.seq > start]

        limit = plan.drop_after if number == 0 or plan.always_drop else None

        async def body() -> AsyncIterator[bytes]:
            yield b": keepalive\n\n"
            for event in events:
                if limit is not None and event.seq > limit:
                    break
                yield sse(event)
                for delta in fake.deltas.get(task_id, {}).get(event.seq, []) if with_deltas else []:
                    yield f"event: codex.delta\ndata: {json.dumps(delta)}\n\n".encode()
            if limit is not None:
                raise DropConnection("dropped on purpose")
            fake.tasks[task_id] = fake.tasks[task_id].model_copy(update={"state": plan.settle})

        return StreamingResponse(body(), media_type="text/event-stream")

    def transition(task_id: str, action: str, state: TaskState, body: Any = None) -> Response:
        record("POST", f"/v1/tasks/{task_id}/{action}", body)
        task = fake.tasks.get(task_id)
        if task is None:
            return missing("task", task_id)
        if task.state.is_terminal:
            return _error(
                409, "invalid_transition", f"cannot {action} task {task_id}: it is {task.state}"
            )
        fake.tasks[task_id] = task.model_copy(update={"state": state})
        return dump(fake.tasks[task_id])

    async def interrupt(request: Request) -> Response:
        return transition(request.path_params["task_id"], "interrupt", TaskState.INTERRUPTED)

    async def cancel(request: Request) -> Response:
        return transition(request.path_params["task_id"], "cancel", TaskState.CANCELLED)

    async def resume(request: Request) -> Response:
        body = await read_body(request, ResumeBody)
        dumped = body.model_dump(exclude_unset=True)
        return transition(request.path_params["task_id"], "resume", TaskState.QUEUED, dumped)

    async def steer(request: Request) -> Response:
        body = await read_body(request, PromptBody)
        task_id = request.path_params["task_id"]
        return transition(task_id, "steer", TaskState.RUNNING, body.model_dump())

    async def message(request: Request) -> Response:
        body = await read_body(request, MessageBody)
        task_id = request.path_params["task_id"]
        dumped = body.model_dump(exclude_unset=True)
        return transition(task_id, "message", TaskState.QUEUED, dumped)

    async def diff(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        found = fake.diffs.get(task_id)
        return dump(found) if found is not None else missing("task", task_id)

    async def approvals(request: Request) -> Response:
        state = request.query_params.get("state")
        record("GET", "/v1/approvals", {"state": state})
        return dump(
            ApprovalList(
                approvals=[a for a in fake.approvals.values() if state is None or a.state == state]
            )
        )

    async def decide(request: Request) -> Response:
        body = await read_body(request, DecisionBody)
        approval_id = request.path_params["approval_id"]
        record("POST", f"/v1/approvals/{approval_id}", body.model_dump(exclude_unset=True))
        approval = fake.approvals.get(approval_id)
        if approval is None:
            return missing("approval", approval_id)
        if body.decision not in approval.available_decisions:
            offered = ", ".join(approval.available_decisions)
            return _error(
                422,
                "decision_not_offered",
                f"approval {approval_id} does not offer {body.decision!r}; it offers: {offered}",
                "decision",
            )
        decided = approval.model_copy(
            update={
                "state": "decided",
                "decision": body.decision,
                "decided_by": body.by,
                "decided_at": T0,
            }
        )
        fake.approvals[approval_id] = decided
        return dump(decided)

    async def create_graph(request: Request) -> Response:
        body = await read_body(request, GraphCreate)
        record("POST", "/v1/graphs", body.model_dump(exclude_unset=True))
        graph_id = f"g_{len(fake.graphs) + 1}"
        parent = task_out(
            f"{graph_id}_parent", prompt=body.prompt or "", repo=body.repo, cwd=body.cwd
        )
        children = [
            task_out(
                f"{graph_id}_{c.key}",
                prompt=c.prompt,
                key=c.key,
                depends_on=c.depends_on,
                parent_id=parent.id,
                graph_id=graph_id,
            )
            for c in body.children
        ]
        graph = GraphOut(
            id=graph_id, state=TaskState.QUEUED, parent=parent, children=children, blocked=[]
        )
        fake.graphs[graph_id] = graph
        return dump(graph, 201)

    async def get_graph(request: Request) -> Response:
        graph_id = request.path_params["graph_id"]
        graph = fake.graphs.get(graph_id)
        return dump(graph) if graph is not None else missing("graph", graph_id)

    async def gc(request: Request) -> Response:
        body = await read_body(request, GcBody)
        record("POST", "/v1/gc", body.model_dump(exclude_unset=True))
        return dump(
            GcOut(
                removed=["t_old"],
                removed_worktrees=[
                    RemovedWorktreeOut(
                        task_id="t_old", path="/home/u/worktrees/t_old", branch="codex-runner/t_old"
                    )
                ],
                kept=[{"task_id": "t_wip", "reason": "unmerged", "detail": "2 commits ahead"}],
            )
        )

    routes = [
        route("/healthz", "GET", healthz),
        route("/v1/tasks", "POST", submit),
        route("/v1/tasks", "GET", list_tasks),
        route("/v1/tasks/{task_id}", "GET", get_task),
        route("/v1/tasks/{task_id}/events", "GET", list_events),
        route("/v1/tasks/{task_id}/events/stream", "GET", stream),
        route("/v1/tasks/{task_id}/interrupt", "POST", interrupt),
        route("/v1/tasks/{task_id}/cancel", "POST", cancel),
        route("/v1/tasks/{task_id}/resume", "POST", resume),
        route("/v1/tasks/{task_id}/steer", "POST", steer),
        route("/v1/tasks/{task_id}/message", "POST", message),
        route("/v1/tasks/{task_id}/diff", "GET", diff),
        route("/v1/approvals", "GET", approvals),
        route("/v1/approvals/{approval_id}", "POST", decide),
        route("/v1/graphs", "POST", create_graph),
        route("/v1/graphs/{graph_id}", "GET", get_graph),
        route("/v1/gc", "POST", gc),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(BearerOnly)],
        exception_handlers={HTTPException: _http_error},
    )


@contextmanager
def serve_in_thread(asgi: Any, **config: Any) -> Iterator[str]:
    """Serve ``asgi`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields its URL.

    The socket listens before the server starts, so clients can connect at once (the
    kernel queues them until uvicorn accepts): nothing has to wait for start-up.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    settings: dict[str, Any] = {
        "log_level": "critical",
        "lifespan": "off",
        "timeout_graceful_shutdown": 2,
    }
    settings.update(config)
    server = uvicorn.Server(uvicorn.Config(asgi, **settings))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SERVER_STOP_TIMEOUT_S)
        sock.close()
        assert not thread.is_alive(), "the test server did not stop"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def fake() -> Iterator[FakeDaemon]:
    daemon = FakeDaemon()
    with serve_in_thread(build_app(daemon)) as url:
        daemon.url = url
        yield daemon


def make_home(path: Path, url: str | None = None, token: str | None = TOKEN) -> Path:
    """A runner home with the API token and, when ``url`` is given, a daemon.json naming a
    live pid (this test process) and that URL."""
    path.mkdir(parents=True, exist_ok=True)
    if token is not None:
        write_private(path / "api-token", token + "\n")
    if url is not None:
        write_info(path, DaemonInfo(url=url, pid=os.getpid(), started_at=T0.isoformat()))
    return path


@pytest.fixture
def home(tmp_path: Path, fake: FakeDaemon) -> Path:
    return make_home(tmp_path / "home", fake.url)


CliRun = Callable[..., Result]


@pytest.fixture
def cli(home: Path) -> CliRun:
    """Run ``codex-runner ARGS`` against the fake daemon (found through daemon.json)."""
    return make_cli(home)


def make_cli(home: Path) -> CliRun:
    runner = CliRunner()

    def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
        full_env: dict[str, str | None] = {
            "CODEX_RUNNER_HOME": str(home),
            "CODEX_RUNNER_URL": None,
            "COLUMNS": "200",
        }
        full_env.update(env or {})
        return runner.invoke(cli_app, list(args), env=full_env)

    return run


def one_error_line(result: Result) -> str:
    """The single ``error:`` line a failed command printed on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


APPROVAL = ApprovalOut(
    id="a_1",
    task_id="t_1",
    kind="command",
    state="pending",
    command="rm -rf build",
    cwd="/tmp/work",
    reason="clean the build",
    changes=[],
    available_decisions=["accept", "decline"],
    decision=None,
    decided_by=None,
    created_at=T0,
    decided_at=None,
)
PATCH_APPROVAL = APPROVAL.model_copy(
    update={
        "id": "a_2",
        "kind": "file_change",
        "command": None,
        "changes": [FileChangeOut(path="src/app.py", kind="update")],
        "available_decisions": ["accept", "acceptForSession", "decline"],
    }
)
