"""An approval that expires says so: the task it interrupts names the approval and the
timeout, not a person's request."""

from __future__ import annotations

from codex_runner.codex.runtime import TurnRecorder
from codex_runner.codex.scripted import ScriptedRuntime, complete, gated
from codex_runner.domain.events import (
    ApprovalKind,
    ApprovalRequest,
    CodexEvent,
    EventKind,
    TurnStatus,
)
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.memory import InMemoryStore

from .waiting import wait_state

WS = WorkspaceRequest.directory("/tmp")


async def ask_without_decline(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    """As Codex 0.163 asks about a command: no decline offered, and cancel ends the turn."""
    handler = rt.turn_approvals.get(rec.thread_id) or rt.approvals
    assert handler is not None
    rec.emit(CodexEvent(EventKind.TURN_STARTED, thread_id=rec.thread_id))
    request = ApprovalRequest(
        id="r1",
        kind=ApprovalKind.COMMAND,
        thread_id=rec.thread_id,
        turn_id=None,
        command="touch declined.txt",
        available_decisions=("accept", "acceptForSession", "cancel"),
    )
    decision = await handler(request)
    rt.decisions.append(decision)
    if decision == "cancel":
        rec.finish(TurnStatus.INTERRUPTED)
    else:
        await complete(rt, rec, text)


def _service(runtime: ScriptedRuntime, timeout_s: float) -> tuple[TaskService, InMemoryStore]:
    store = InMemoryStore()
    service = TaskService(
        store,
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=timeout_s,
    )
    return service, store


async def test_an_expired_approval_that_ends_the_turn_says_it_expired() -> None:
    runtime = ScriptedRuntime(lambda _: ask_without_decline)
    service, store = _service(runtime, 0.05)
    await service.start()
    try:
        task = await service.submit("touch declined", WS)
        done = await wait_state(service, task.id, TaskState.INTERRUPTED)
        assert runtime.decisions == ["cancel"]
        events = await store.read_events(task.id)
        (approval_id,) = [e.data["approval_id"] for e in events if e.type == "approval.expired"]
        assert done.reason == (
            f"approval {approval_id} expired after 0.05s with no decision "
            "(answered cancel); raise [service] approval_timeout_s to wait longer"
        )
    finally:
        await service.stop()


async def test_after_an_expiry_a_later_interrupt_is_a_request_again() -> None:
    scripts = {"touch declined": ask_without_decline}
    runtime = ScriptedRuntime(lambda text: scripts.get(text, gated))
    service, _ = _service(runtime, 0.05)
    await service.start()
    try:
        task = await service.submit("touch declined", WS)
        await wait_state(service, task.id, TaskState.INTERRUPTED)
        await service.message(task.id, "go on")
        await runtime.wait_started(2)
        await wait_state(service, task.id, TaskState.RUNNING)
        interrupted = await service.interrupt(task.id)
        assert interrupted.state is TaskState.INTERRUPTED
        assert interrupted.reason == "interrupted by request"
    finally:
        await service.stop()
