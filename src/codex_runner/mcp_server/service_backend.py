"""The MCP tools over the daemon's own TaskService (the ``/mcp`` endpoint): the same calls
the API's routes make, answered in the API's wire models."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable
from typing import TypeVar

from codex_runner.domain.approval import ApprovalAlreadySettled, DecisionNotOffered
from codex_runner.domain.task import Task
from codex_runner.domain.transitions import InvalidTransition
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
from codex_runner.http.wire_inputs import (
    graph_request_of,
    overrides_of,
    settings_of,
    task_options_of,
    turn_input_of,
)
from codex_runner.http.wire_tasks import TaskList, TaskOut
from codex_runner.mcp_server.backend import INTERNAL, RunnerError, TaskQuery
from codex_runner.service.errors import (
    GraphNotFound,
    IdempotencyKeyReused,
    InvalidRequest,
    TaskNotRunning,
)
from codex_runner.service.graphs import GraphView
from codex_runner.service.home_watch import HomeUnavailable
from codex_runner.service.tasks import TaskService
from codex_runner.service.validation import workspace_request
from codex_runner.store.errors import ApprovalNotFound, StoreBusy, StoreClosed, TaskNotFound
from codex_runner.workspace.protocol import WorkspaceError

log = logging.getLogger(__name__)

T = TypeVar("T")

DECIDER = "mcp"
INTERNAL_MESSAGE = "internal error: the daemon logged the details; see its log"

# The API's codes for the same errors (http/errors.py), so both transports say the same.
_CODES: tuple[tuple[type[Exception], str], ...] = (
    (InvalidRequest, "invalid_request"),
    (DecisionNotOffered, "decision_not_offered"),
    (TaskNotFound, "not_found"),
    (ApprovalNotFound, "not_found"),
    (GraphNotFound, "not_found"),
    (InvalidTransition, "invalid_transition"),
    (TaskNotRunning, "task_not_running"),
    (IdempotencyKeyReused, "idempotency_conflict"),
    (ApprovalAlreadySettled, "approval_settled"),
    (WorkspaceError, "workspace_error"),
    (StoreClosed, "unavailable"),
    (StoreBusy, "store_busy"),
    (HomeUnavailable, "home_unavailable"),
)


async def _answer(call: Awaitable[T]) -> T:
    """The call's result; its error as a RunnerError (an unexpected one is logged, and
    answered without its text: it may hold paths or secrets)."""
    try:
        return await call
    except RunnerError:
        raise
    except Exception as exc:
        for kind, code in _CODES:
            if isinstance(exc, kind):
                field = exc.field if isinstance(exc, InvalidRequest) else None
                raise RunnerError(code, str(exc), field) from None
        log.exception("an MCP tool call failed")
        raise RunnerError(INTERNAL, INTERNAL_MESSAGE) from None


class ServiceBackend:
    """:class:`~codex_runner.mcp_server.backend.RunnerBackend` over a TaskService."""

    def __init__(self, service: TaskService) -> None:
        self._service = service

    def _out(self, task: Task) -> TaskOut:
        return TaskOut.of(task, attached=self._service.sessions.attached(task.id))

    async def submit_task(self, body: TaskCreate) -> TaskOut:
        async def submit() -> Task:
            task, _ = await self._service.submit_or_find(
                turn_input_of(body.prompt, body.input),
                workspace_request(body.repo, body.base_ref, body.cwd),
                priority=body.priority,
                settings=settings_of(body),
                max_runtime_s=body.max_runtime_s,
                idempotency_key=body.idempotency_key,
                thread_id=body.thread_id,
                options=task_options_of(body),
            )
            return task

        return self._out(await _answer(submit()))

    async def get_task(self, task_id: str) -> TaskOut:
        return self._out(await _answer(self._service.get(task_id)))

    async def list_tasks(self, query: TaskQuery) -> TaskList:
        tasks = await _answer(
            self._service.list_tasks(
                states=list(query.states) or None,
                graph_id=query.graph_id,
                purpose=query.purpose,
                metadata=query.metadata,
                limit=query.limit,
                offset=query.offset,
            )
        )
        return TaskList(tasks=[self._out(t) for t in tasks])

    async def send_message(self, task_id: str, body: MessageBody) -> TaskOut:
        async def message() -> Task:
            prompt = turn_input_of(body.prompt, body.input)
            return await self._service.message(task_id, prompt, overrides=overrides_of(body))

        return self._out(await _answer(message()))

    async def steer_task(self, task_id: str, prompt: str) -> TaskOut:
        await _answer(self._service.steer(task_id, prompt))
        return await self.get_task(task_id)

    async def interrupt_task(self, task_id: str) -> TaskOut:
        return self._out(await _answer(self._service.interrupt(task_id)))

    async def cancel_task(self, task_id: str) -> TaskOut:
        return self._out(await _answer(self._service.cancel(task_id)))

    async def get_task_events(self, task_id: str, after: int, limit: int) -> EventList:
        events = await _answer(self._service.read_events(task_id, after_seq=after, limit=limit))
        return EventList.page(events, after)

    async def follow_events(self, task_id: str, after: int) -> AsyncGenerator[EventOut, None]:
        await self.get_task(task_id)  # an unknown task is an error, not a silent wait
        events = self._service.events(task_id, after)
        try:
            async for event in events:
                yield EventOut.of(event)
        finally:  # the follower's subscription ends with this generator
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    async def get_task_diff(self, task_id: str) -> DiffOut:
        async def diff() -> DiffOut:
            found = await self._service.diff(task_id)
            task = await self._service.get(task_id)
            return DiffOut(
                task_id=task.id,
                branch=task.branch,
                summary=task.diff_summary,
                diff=found.diff,
                collected=found.collected,
                collected_at=found.collected_at,
            )

        return await _answer(diff())

    async def list_approvals(self, task_id: str | None) -> ApprovalList:
        approvals = await _answer(self._service.pending_approvals(task_id))
        return ApprovalList(approvals=[ApprovalOut.of(a) for a in approvals])

    async def decide_approval(self, approval_id: str, body: DecisionBody) -> ApprovalOut:
        decided = await _answer(
            self._service.decide_approval(approval_id, body.decision, body.by or DECIDER)
        )
        return ApprovalOut.of(decided)

    async def start_graph(self, body: GraphCreate) -> GraphOut:
        async def start() -> GraphView:
            request = graph_request_of(body)
            view, _ = await self._service.submit_graph_or_find(request)
            return view

        return self._graph_out(await _answer(start()))

    async def get_graph(self, graph_id: str) -> GraphOut:
        return self._graph_out(await _answer(self._service.graph(graph_id)))

    def _graph_out(self, view: GraphView) -> GraphOut:
        return GraphOut(
            id=view.graph.id,
            state=view.state,
            parent=self._out(view.parent),
            children=[self._out(c) for c in view.children],
            blocked=sorted(view.blocked),
            max_concurrent=view.graph.max_concurrent,
        )
