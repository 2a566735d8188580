"""``wait_task``: block until a task settles or needs someone, or until the time is up,
saying which, with progress notifications meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, Field

from codex_runner.domain.task import TaskState
from codex_runner.http.wire import EventOut
from codex_runner.http.wire_tasks import TaskOut
from codex_runner.mcp_server.backend import RunnerBackend

MAX_WAIT_S = 60.0
# A progress notification at least this often while nothing happens, so a client sees
# the wait is alive; and at most this often while events pour in.
HEARTBEAT_S = 5.0
MIN_REPORT_GAP_S = 0.5
EVENT_BUFFER = 256
MAX_FOLLOWS = 5  # event streams one wait opens at most (the first and reconnections)

Outcome = Literal["settled", "awaiting_approval", "interrupted", "timeout"]
# (progress, total, message): the MCP progress notification.
Report = Callable[[float, float | None, str | None], Awaitable[None]]

_STATE_EVENTS = frozenset({"task.state_changed", "task.reconciled"})


class WaitOut(BaseModel):
    outcome: Outcome = Field(
        description="settled: the task ended (completed, failed or cancelled); "
        "awaiting_approval: it waits for a decision (list_approvals, decide_approval); "
        "interrupted: it waits for send_message; timeout: still going, call wait_task again."
    )
    task: TaskOut
    waited_s: float


async def outcome_of(backend: RunnerBackend, task: TaskOut) -> Outcome | None:
    """Why a wait ends with the task as it is, or None while it is still on its way."""
    if task.state.is_terminal:
        return "settled"
    if task.state is TaskState.INTERRUPTED:
        return "interrupted"
    if task.state is TaskState.AWAITING_APPROVAL:
        # Just decided, the task is still in this state until its turn goes on: only an
        # approval still pending means someone has to act.
        pending = await backend.list_approvals(task.id)
        return "awaiting_approval" if pending.approvals else None
    return None


async def wait_for_task(
    backend: RunnerBackend, task_id: str, timeout_s: float, report: Report
) -> WaitOut:
    """The task once it settles or needs someone, or as it is after ``timeout_s`` (at most
    :data:`MAX_WAIT_S`)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    timeout_s = min(max(timeout_s, 0.0), MAX_WAIT_S)
    task = await backend.get_task(task_id)
    outcome = await outcome_of(backend, task)
    if outcome is not None or timeout_s == 0:
        return WaitOut(outcome=outcome or "timeout", task=task, waited_s=0.0)
    events: asyncio.Queue[EventOut | BaseException] = asyncio.Queue(EVENT_BUFFER)

    async def pump() -> None:
        after = 0
        try:
            # A stream the daemon ends (it stops: its streams close) is followed again from
            # the last event; a daemon that is gone then fails the call, saying so.
            for _ in range(MAX_FOLLOWS):
                async with contextlib.aclosing(backend.follow_events(task_id, after)) as stream:
                    async for event in stream:
                        after = event.seq
                        await events.put(event)
        except Exception as exc:  # handed to the waiter, which raises it
            await events.put(exc)

    pumping = asyncio.create_task(pump(), name=f"mcp-wait-{task_id}")
    reported = began - MIN_REPORT_GAP_S  # the first event is reported at once
    latest = "waiting"
    try:
        while (left := began + timeout_s - loop.time()) > 0:
            try:
                item = await asyncio.wait_for(events.get(), min(left, HEARTBEAT_S))
            except TimeoutError:
                item = None
            if isinstance(item, BaseException):
                raise item
            now = loop.time()
            if item is not None:
                latest = item.type
                if item.type in _STATE_EVENTS:
                    task = await backend.get_task(task_id)
                    outcome = await outcome_of(backend, task)
                    if outcome is not None:
                        return WaitOut(outcome=outcome, task=task, waited_s=now - began)
            if item is None or now - reported >= MIN_REPORT_GAP_S:
                reported = now
                await report(now - began, timeout_s, f"{task.state}; latest event: {latest}")
        task = await backend.get_task(task_id)
        outcome = await outcome_of(backend, task)
        return WaitOut(outcome=outcome or "timeout", task=task, waited_s=loop.time() - began)
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumping
