from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from codex_runner.codex.runtime import TurnRecorder
from codex_runner.codex.scripted import Script, ScriptedRuntime, ask, complete, crash, gated
from codex_runner.domain.approval import ApprovalAlreadySettled, DecisionNotOffered
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import FailureClass
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.domain.transitions import Action, InvalidTransition
from codex_runner.service.event_bus import EventBus, follow
from codex_runner.service.live_run import CrashHistory
from codex_runner.service.tasks import DirectoryWorkspaces, TaskNotFound, TaskService
from codex_runner.store.errors import TaskConflict
from codex_runner.store.memory import InMemoryStore
from codex_runner.store.protocol import TaskUpdate

from .waiting import wait_state

WS = WorkspaceRequest.directory("/tmp")


def make(
    script: Callable[[str], Script],
    *,
    max_concurrent: int = 2,
    approval_timeout_s: float = 5.0,
    auto_resume: bool = False,
) -> tuple[TaskService, ScriptedRuntime, InMemoryStore, EventBus]:
    store = InMemoryStore()
    runtime = ScriptedRuntime(script)
    bus = EventBus()
    service = TaskService(
        store,
        runtime,
        DirectoryWorkspaces(),
        bus,
        max_concurrent=max_concurrent,
        approval_timeout_s=approval_timeout_s,
        auto_resume=auto_resume,
    )
    return service, runtime, store, bus


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
        assert runtime.released == ["th1", "th1"]  # after each turn
        assert done.thread_id == "th1"
    finally:
        await service.stop()


async def test_a_thread_is_released_when_its_turn_ends_before_the_task_settles() -> None:
    service, runtime, store, _ = make(lambda _: complete)
    states_at_release: list[TaskState] = []
    release = runtime.release_thread

    async def observing_release(thread_id: str) -> None:
        task = await store.find_task_by_thread(thread_id)
        assert task is not None
        states_at_release.append(task.state)
        await release(thread_id)

    runtime.release_thread = observing_release  # type: ignore[method-assign]
    await service.start()
    try:
        task = await service.submit("fix it", WS)
        await wait_state(service, task.id, TaskState.COMPLETED)
        # Still running when released: a re-queued task's next run must find it released.
        assert states_at_release == [TaskState.RUNNING]
        assert runtime.released == ["th1"]
    finally:
        await service.stop()


async def test_a_run_that_fails_after_its_turn_started_stops_the_turn_and_releases() -> None:
    service, runtime, store, _ = make(lambda _: gated)
    turns: list[object] = []
    start_turn = runtime.start_turn

    async def remembering_start(thread_id: str, prompt: object, **options: object) -> object:
        turn = await start_turn(thread_id, prompt, **options)  # type: ignore[arg-type]
        turns.append(turn)
        return turn

    async def broken_save_turn(record: object) -> None:
        raise OSError("disk full")

    runtime.start_turn = remembering_start  # type: ignore[method-assign, assignment]
    store.save_turn = broken_save_turn  # type: ignore[method-assign, assignment]
    await service.start()
    try:
        task = await service.submit("fix it", WS)
        failed = await wait_state(service, task.id, TaskState.FAILED)
        assert "disk full" in (failed.reason or "")
        assert runtime.released == ["th1"]
        (turn,) = turns
        assert turn.done  # type: ignore[attr-defined]  # interrupted, not left running
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


@pytest.mark.parametrize("batch_conflicts", [False, True], ids=["one-transaction", "one-by-one"])
async def test_recovery_interrupts_active_tasks(
    batch_conflicts: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    if batch_conflicts:  # another writer got in between: each task is reconciled alone

        async def conflict(updates: object, **_: object) -> list[list[int]]:
            raise TaskConflict(a.id, TaskState.RUNNING, TaskState.CANCELLED)

        monkeypatch.setattr(store, "update_tasks", conflict)
    await service.start()
    try:
        for t in (a, b):
            task = await service.get(t.id)
            assert task.state is TaskState.INTERRUPTED
            assert task.reason is not None and "restarted" in task.reason
            events = await store.read_events(t.id)
            assert events[-1].type == "task.reconciled"
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
    finally:
        await service.stop()


@pytest.mark.parametrize("batch_conflicts", [False, True], ids=["one-transaction", "one-by-one"])
async def test_recovery_with_auto_resume_runs_crashed_tasks_to_completion(
    batch_conflicts: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _, store, _ = make(lambda _: complete, auto_resume=True)
    crashed = [await service.submit(p, WS) for p in ("a", "b")]
    from codex_runner.domain import durable_event

    for task in crashed:
        running, ev = durable_event.transition(task, Action.START, now=task.created_at)
        await store.update_task(running, expected_state=task.state, events=[ev])
    if batch_conflicts:
        real = store.update_tasks
        calls = 0

        async def second_batch_conflicts(
            updates: list[TaskUpdate], **options: Any
        ) -> list[list[int]]:
            nonlocal calls
            calls += 1
            if calls == 2:  # the resume batch: resumed one by one instead
                raise TaskConflict(crashed[0].id, TaskState.INTERRUPTED, TaskState.QUEUED)
            return await real(updates, **options)

        monkeypatch.setattr(store, "update_tasks", second_batch_conflicts)
    await service.start()
    try:
        for task in crashed:
            await wait_state(service, task.id, TaskState.COMPLETED)
            types = [e.type for e in await store.read_events(task.id)]
            assert types.count("task.reconciled") == 1
            assert types.index("task.reconciled") < len(types) - 1  # and it went on
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
        # The first crash makes it a suspect; the next three, run as the lone suspect, count.
        assert failed.attempts == 4
        assert failed.reason == "codex crashed on this task 3 times"
        await wait_state(service, good.id, TaskState.COMPLETED)
        assert service._scheduler.crash_history(poison.id) == CrashHistory()  # ended with it
    finally:
        await service.stop()


async def test_a_crash_suspect_cancelled_while_queued_leaves_no_history() -> None:
    service, _, _, _ = make(lambda _: complete)  # not started: the task stays queued
    task = await service.submit("crashy", WS)
    # As a crash re-queueing it leaves it:
    service._scheduler.keep_history(task.id, CrashHistory(suspect=True, crashes=1))
    await service.cancel(task.id)
    assert service._scheduler.crash_history(task.id) == CrashHistory()


async def test_a_crash_is_charged_to_the_task_causing_it_not_to_the_one_beside_it() -> None:
    roles: dict[str, str] = {}
    beside: list[TurnRecorder] = []
    bystander_in_turn = asyncio.Event()

    async def play(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
        role = roles.setdefault(rec.thread_id, text.split()[0])
        if role == "bystander" and not beside:  # first run: in its turn when Codex dies
            beside.append(rec)
            bystander_in_turn.set()
            await rt.gate.wait()
        elif role == "poison":  # kills "Codex": its own turn and any other running one
            await asyncio.wait_for(bystander_in_turn.wait(), 5)
            for other in beside:
                other.fail(FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED, "codex exited")
            rec.fail(FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED, "codex exited")
        else:
            await complete(rt, rec, text)

    service, runtime, store, _ = make(lambda _: play)
    await service.start()
    try:
        bystander = await service.submit("bystander", WS, priority=1)
        poison = await service.submit("poison", WS)
        failed = await wait_state(service, poison.id, TaskState.FAILED)
        assert failed.reason == "codex crashed on this task 3 times"
        done = await wait_state(service, bystander.id, TaskState.COMPLETED)
        assert done.attempts == 2  # crashed once beside the poison, then got through
        reasons = [e.data.get("reason") for e in await store.read_events(bystander.id)]
        assert any("run apart from the others" in str(r) for r in reasons)
    finally:
        runtime.gate.set()
        await service.stop()


async def test_idempotent_submit() -> None:
    service, _, _, _ = make(lambda _: complete)
    first = await service.submit("x", WS, idempotency_key="k1")
    second = await service.submit("x", WS, idempotency_key="k1")
    assert second.id == first.id
    assert len(await service.list_tasks()) == 1
    again, created = await service.submit_or_find("x", WS, idempotency_key="k1")
    assert (again.id, created) == (first.id, False)
    fresh, created = await service.submit_or_find("z", WS, idempotency_key="k2")
    assert fresh.id != first.id and created


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


async def test_codex_dying_while_a_task_opens_its_thread_is_a_crash_not_a_failure() -> None:
    from codex_runner.codex.errors import TransportClosed

    service, runtime, store, _ = make(lambda _: complete)
    opened = runtime.start_thread
    calls = 0

    async def dies_once(options):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:  # another task's turn killed the app-server just now
            raise TransportClosed("Codex closed the connection: exit code -9")
        return await opened(options)

    runtime.start_thread = dies_once  # type: ignore[method-assign]
    await service.start()
    try:
        task = await service.submit("healthy", WS)
        done = await wait_state(service, task.id, TaskState.COMPLETED)
        reasons = [
            e.data.get("reason") for e in await store.read_events(task.id) if e.data.get("reason")
        ]
        assert any("crashed" in str(r) for r in reasons)
        assert done.final_message == "done: healthy"
    finally:
        await service.stop()
