"""What the MCP tools need from codex-runner: one small Protocol, two implementations.

In the daemon, :class:`~codex_runner.mcp_server.service_backend.ServiceBackend` calls the
TaskService directly; in ``codex-runner mcp``,
:class:`~codex_runner.mcp_server.daemon_backend.DaemonBackend` calls the running daemon's
HTTP API. Both speak the API's own wire models (:mod:`codex_runner.http.wire`), so a tool
answers the same over either transport, and both raise :class:`RunnerError` with the API's
error codes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from codex_runner.domain.task import TaskState
from codex_runner.http.wire import (
    ApprovalList,
    ApprovalOut,
    DecisionBody,
    DiffOut,
    EventList,
    EventOut,
    GraphCreate,
    GraphOut,
    MessageBody,
    TaskCreate,
)
from codex_runner.http.wire_tasks import TaskList, TaskOut

# Codes of the API's errors (http/errors.py), plus the two only a client meets.
DAEMON_UNREACHABLE = "daemon_unreachable"
INTERNAL = "internal_error"


class RunnerError(Exception):
    """A call codex-runner refused or could not make; ``code`` is the API's error code and
    the message says what was wrong (never a traceback, never a secret)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class TaskQuery:
    """Which tasks list_tasks wants, as ``GET /v1/tasks`` takes them (newest first)."""

    states: Sequence[TaskState] = ()
    graph_id: str | None = None
    purpose: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # each key holds its value
    limit: int = 50
    offset: int = 0


class RunnerBackend(Protocol):
    """The task service as the MCP tools use it; each call raises :class:`RunnerError`."""

    async def submit_task(self, body: TaskCreate) -> TaskOut: ...

    async def get_task(self, task_id: str) -> TaskOut: ...

    async def list_tasks(self, query: TaskQuery) -> TaskList: ...

    async def send_message(self, task_id: str, body: MessageBody) -> TaskOut: ...

    async def steer_task(self, task_id: str, prompt: str) -> TaskOut: ...

    async def interrupt_task(self, task_id: str) -> TaskOut: ...

    async def cancel_task(self, task_id: str) -> TaskOut: ...

    async def get_task_events(self, task_id: str, after: int, limit: int) -> EventList: ...

    def follow_events(self, task_id: str, after: int) -> AsyncGenerator[EventOut, None]:
        """The task's events after ``after``: the stored ones, then live ones as they come,
        until the caller stops reading (close the iterator)."""
        ...

    async def get_task_diff(self, task_id: str) -> DiffOut: ...

    async def list_approvals(self, task_id: str | None) -> ApprovalList: ...

    async def decide_approval(self, approval_id: str, body: DecisionBody) -> ApprovalOut: ...

    async def start_graph(self, body: GraphCreate) -> GraphOut: ...

    async def get_graph(self, graph_id: str) -> GraphOut: ...
