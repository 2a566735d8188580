from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest

from codex_runner.codex.runtime import (
    ApprovalHandler,
    RuntimeStatus,
    ThreadHandle,
    ThreadOptions,
    TurnInput,
    TurnRecorder,
    TurnResult,
)
from codex_runner.domain.approval import ApprovalAlreadySettled, DecisionNotOffered
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import (
    ApprovalKind,
    ApprovalRequest,
    CodexEvent,
    EventKind,
    FailureClass,
    Item,
    ItemType,
    TokenUsage,
    TurnStatus,
)
from codex_runner.domain.task import Task, TaskState, Workspace
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.event_bus import EventBus, follow
from codex_runner.service.tasks import DirectoryWorkspaces, TaskNotFound, TaskService
from codex_runner.store.memory import InMemoryStore

WS = Workspace.directory("/tmp")
Script = Callable[["FakeRuntime", TurnRecorder, str], Awaitable[None]]


async def complete(rt: FakeRuntime, rec: TurnRecorder, text: str) -> None:
    rec.emit(CodexEvent(EventKind.TURN_STARTED, thread_id=rec.thread_id))
    item = Item(id="m1", type=ItemType.AGENT_MESSAGE, text=f"done: {text}")
    rec.emit(CodexEvent(EventKind.ITEM_COMPLETED, thread_id=rec.thread_id, item=item))
    rec.emit(CodexEvent(EventKind.TOKEN_USAGE, usage=TokenUsage(input_tokens=3, total_tokens=5)))
    rec.finish(TurnStatus.COMPLETED)


async def gated(rt: FakeRuntime, rec: TurnRecorder, text: str) -> None:
    await rt.gate.wait()
    await complete(rt, rec, text)


async def crash(rt: FakeRuntime, rec: TurnRecorder, text: str) -> None:
    rec.fail(FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED, "codex exited")


async def ask(rt: FakeRuntime, rec: TurnRecorder, text: str) -> None:
    assert rt.approvals is not None
    request = ApprovalRequest(
        id="r1",
        kind=ApprovalKind.COMMAND,
        thread_id=rec.thread_id,
        turn_id=None,
        command="rm -rf build",
        available_decisions=("accept", "decline"),
    )
    decision = await rt.approvals(request)
    rt.decisions.append(decision)
    await complete(rt, rec, f"{text} ({decision})")


class FakeTurn:
    def __init__(self, rec: TurnRecorder, task: asyncio.Task[None]) -> None:
        self._rec = rec
        self._task = task
        self.steered: list[str] = []

    @property
    def thread_id(self) -> str:
        return self._rec.thread_id

    @property
    def id(self) -> str | None:
        return self._rec.turn_id

    @property
    def done(self) -> bool:
        return self._rec.done

    def events(self) -> AsyncIterator[CodexEvent]:
        return self._rec.events()

    async def wait(self, timeout: float | None = None) -> TurnResult:
        return await self._rec.wait(timeout)

    async def steer(self, prompt: str | Sequence[TurnInput]) -> None:
        assert isinstance(prompt, str)
        self.steered.append(prompt)

    async def interrupt(self) -> TurnResult:
        self._task.cancel()
        return self._rec.finish(TurnStatus.INTERRUPTED)


@dataclass
class FakeRuntime:
    script: Callable[[str], Script]
    kind: str = "fake"
    approvals: ApprovalHandler | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[tuple[str, str]] = field(default_factory=list)  # (thread id, input)
    resumed: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    live: int = 0
    max_live: int = 0
    threads: int = 0
    started_changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_started(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` turns have been started."""
        async with asyncio.timeout(timeout), self.started_changed:
            await self.started_changed.wait_for(lambda: len(self.started) >= n)

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def status(self) -> RuntimeStatus:
        return RuntimeStatus(kind="fake", state="ready")

    async def start_thread(self, options: ThreadOptions) -> ThreadHandle:
        self.threads += 1
        return ThreadHandle(f"th{self.threads}")

    async def resume_thread(
        self, thread_id: str, options: ThreadOptions, *, context: str | None = None
    ) -> ThreadHandle:
        self.resumed.append(thread_id)
        return ThreadHandle(thread_id)

    async def start_turn(self, thread_id: str, prompt: str | Sequence[TurnInput]) -> FakeTurn:
        assert isinstance(prompt, str)
        self.started.append((thread_id, prompt))
        async with self.started_changed:
            self.started_changed.notify_all()
        rec = TurnRecorder(thread_id)
        self.live += 1
        self.max_live = max(self.max_live, self.live)
        script = self.script(prompt)

        async def run() -> None:
            try:
                await script(self, rec, prompt)
            finally:
                self.live -= 1

        return FakeTurn(rec, asyncio.create_task(run()))


def make(
    script: Callable[[str], Script], *, max_concurrent: int = 2, approval_timeout_s: float = 5.0
) -> tuple[TaskService, FakeRuntime, InMemoryStore, EventBus]:
    store = InMemoryStore()
    runtime = FakeRuntime(script)
    bus = EventBus()
    service = TaskService(
        store,
        runtime,
        DirectoryWorkspaces(),
        bus,
        max_concurrent=max_concurrent,
        approval_timeout_s=approval_timeout_s,
    )
    runtime.approvals = service.approval_handler
    return service, runtime, store, bus


async def wait_state(service: TaskService, task_id: str, state: TaskState) -> Task:
    """Wait on the task's event feed (no polling) until the task is in ``state``."""
    async with asyncio.timeout(5):
        task = await service.get(task_id)
        if task.state is state:
            return task
        async for _ in service.events(task_id):
            task = await service.get(task_id)
            if task.state is state:
                return task
    raise AssertionError("the event feed ended")


async def test_priority_order_and_concurrency_cap() -> None:
    service, runtime, _, _ = make(lambda _: gated, max_concurrent=2)
    low = await service.submit("low", WS, priority=0)
    high = await service.submit("high", WS, priority=5)
    mid = await service.submit("mid", WS, priority=2)
    await service.start()
    try:
        await runtime.wait_started(2)
        assert [p for _, p in runtime.started] == ["high", "mid"]
        assert (await service.get(low.id)).state is TaskState.QUEUED
        runtime.gate.set()
        for t in (low, high, mid):
            await wait_state(service, t.id, TaskState.COMPLETED)
        assert [p for _, p in runtime.started] == ["high", "mid", "low"]
        assert runtime.max_live == 2
    finally:
        await service.stop()


async def test_completed_task_has_message_usage_and_gapless_events() -> None:
    service, _, store, _ = make(lambda _: complete)
    await service.start()
    try:
        task = await service.submit("fix it", WS)
        done = await wait_state(service, task.id, TaskState.COMPLETED)
        assert done.final_message == "done: fix it"
        assert done.usage.total_tokens == 5
        assert done.thread_id == "th1"
        assert (await store.find_task_by_thread("th1")) is not None
        events = await store.read_events(task.id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        types = [e.type for e in events]
        assert types[0] == "task.created"
        assert "codex.turn.completed" in types
        assert types.index("codex.turn.completed") < len(types) - 1  # before the state change
    finally:
        await service.stop()


async def test_interrupt_then_resume_continues_on_same_thread() -> None:
    service, runtime, _, _ = make(lambda p: gated if p == "long job" else complete)
    await service.start()
    try:
        task = await service.submit("long job", WS)
        await runtime.wait_started(1)
        await wait_state(service, task.id, TaskState.RUNNING)
        interrupted = await service.interrupt(task.id)
        assert interrupted.state is TaskState.INTERRUPTED
        with pytest.raises(InvalidTransition, match="cannot interrupt"):
            await service.interrupt(task.id)
        await service.resume(task.id)
        done = await wait_state(service, task.id, TaskState.COMPLETED)
        assert runtime.resumed == ["th1"]
        assert runtime.started == [("th1", "long job"), ("th1", "Continue where you left off.")]
        assert done.thread_id == "th1"
    finally:
        await service.stop()


async def test_unknown_task_and_bad_transition() -> None:
    service, _, _, _ = make(lambda _: complete)
    with pytest.raises(TaskNotFound):
        await service.get("t_missing")
    task = await service.submit("x", WS)
    with pytest.raises(InvalidTransition) as err:
        await service.resume(task.id)
    assert err.value.action is Action.RESUME
    cancelled = await service.cancel(task.id)
    assert cancelled.state is TaskState.CANCELLED


async def _pending(service: TaskService, store: InMemoryStore, task_id: str) -> str:
    """The id of the task's first pending approval, once its request event arrives."""
    async with asyncio.timeout(5):
        async for event in service.events(task_id):
            if event.type == "approval.requested":
                pending = await store.list_pending_approvals(task_id=task_id)
                return pending[0].id
    raise AssertionError("the event feed ended")


async def test_approval_parks_and_decision_resumes() -> None:
    service, runtime, store, _ = make(lambda _: ask)
    await service.start()
    try:
        task = await service.submit("clean", WS)
        approval_id = await _pending(service, store, task.id)
        await wait_state(service, task.id, TaskState.AWAITING_APPROVAL)
        with pytest.raises(DecisionNotOffered):
            await service.decide_approval(approval_id, "maybe", by="alice")
        await service.decide_approval(approval_id, "accept", by="alice")
        with pytest.raises(ApprovalAlreadySettled):
            await service.decide_approval(approval_id, "decline", by="bob")
        done = await wait_state(service, task.id, TaskState.COMPLETED)
        assert runtime.decisions == ["accept"]
        assert done.final_message == "done: clean (accept)"
        types = [e.type for e in await store.read_events(task.id)]
        assert types.count("approval.decided") == 1
    finally:
        await service.stop()


async def test_approval_timeout_declines() -> None:
    service, runtime, store, _ = make(lambda _: ask, approval_timeout_s=0.05)
    await service.start()
    try:
        task = await service.submit("clean", WS)
        await wait_state(service, task.id, TaskState.COMPLETED)
        assert runtime.decisions == ["decline"]
        types = [e.type for e in await store.read_events(task.id)]
        assert "approval.expired" in types
    finally:
        await service.stop()


async def test_recovery_interrupts_active_tasks() -> None:
    service, _, store, _ = make(lambda _: complete)
    a = await service.submit("a", WS)
    b = await service.submit("b", WS)
    from codex_runner.domain import durable_event

    now = a.created_at
    running, ev = durable_event.transition(a, Action.START, now=now)
    await store.update_task(running, expected_state=a.state, events=[ev])
    b_run, ev = durable_event.transition(b, Action.START, now=now)
    await store.update_task(b_run, expected_state=b.state, events=[ev])
    parked, ev = durable_event.transition(b_run, Action.PARK_FOR_APPROVAL, now=now)
    await store.update_task(parked, expected_state=b_run.state, events=[ev])
    await service.start()
    try:
        for t in (a, b):
            task = await service.get(t.id)
            assert task.state is TaskState.INTERRUPTED
            assert task.reason is not None and "restarted" in task.reason
            events = await store.read_events(t.id)
            assert events[-1].type == "task.reconciled"
    finally:
        await service.stop()


async def test_poison_task_fails_after_three_attempts_while_other_completes() -> None:
    service, _, _, _ = make(
        lambda p: crash if p.startswith("poison") or "Continue" in p else complete
    )
    await service.start()
    try:
        poison = await service.submit("poison", WS, priority=1)
        good = await service.submit("good", WS)
        failed = await wait_state(service, poison.id, TaskState.FAILED)
        assert failed.attempts == 3
        assert failed.reason == "codex crashed on this task 3 times"
        await wait_state(service, good.id, TaskState.COMPLETED)
    finally:
        await service.stop()


async def test_idempotent_submit() -> None:
    service, _, _, _ = make(lambda _: complete)
    first = await service.submit("x", WS, idempotency_key="k1")
    second = await service.submit("y", WS, idempotency_key="k1")
    assert second.id == first.id
    assert len(await service.list()) == 1


async def test_follow_sees_catch_up_and_live_without_gap() -> None:
    service, runtime, store, bus = make(lambda _: gated)
    await service.start()
    try:
        task = await service.submit("go", WS)
        await runtime.wait_started(1)
        seen: list[TaskEvent] = []

        async def consume() -> None:
            async for event in follow(store, bus, task.id):
                seen.append(event)
                if event.data.get("to") == "completed":
                    return

        consumer = asyncio.create_task(consume())
        runtime.gate.set()
        async with asyncio.timeout(5):
            await consumer
        assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
        assert seen[-1].seq == await store.last_seq(task.id)
    finally:
        await service.stop()
