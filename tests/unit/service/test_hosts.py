"""Two hosts on one store: a silent host's tasks are taken over on a new lease, the lost
host's later writes are fenced off, and a host that finds itself taken over stops its turns
and registers again. The clock is injected: no test waits for a lease to run out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.codex.scripted import ScriptedRuntime, gated
from codex_runner.domain.events import ApprovalKind, ApprovalRequest
from codex_runner.domain.hosts import HOST_LOST
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.service.approvals import ApprovalDesk
from codex_runner.service.event_bus import EventBus
from codex_runner.service.hosts import HostSettings
from codex_runner.service.task_approvals import TaskApprovals
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.service.writer import TaskWriter
from codex_runner.store.errors import LeaseLost
from codex_runner.store.memory import InMemoryStore

from .waiting import wait_state

WS = WorkspaceRequest.directory("/tmp")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def run_ended(service: TaskService, task_id: str) -> None:
    """Until the service's run of the task has ended (its runner wrote what it could)."""
    for _ in range(500):
        if service._scheduler.live_run(task_id) is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the run of {task_id} did not end")


def host(
    store: InMemoryStore, name: str, clock: Callable[[], datetime], *, auto_resume: bool = False
) -> tuple[TaskService, ScriptedRuntime]:
    runtime = ScriptedRuntime(lambda _: gated)
    settings = HostSettings(id=name, version="t", capacity=2, heartbeat_s=60, lease_s=10)
    service = TaskService(
        store,
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5,
        auto_resume=auto_resume,
        clock=clock,
        host=settings,
    )
    return service, runtime


async def test_a_silent_hosts_task_is_taken_over_and_its_late_writes_are_fenced() -> None:
    store, clock = InMemoryStore(), Clock()
    first, first_runtime = host(store, "a", clock)
    second, _ = host(store, "b", clock)
    await first.start()
    try:
        task = await first.submit("hold", WS)
        running = await wait_state(first, task.id, TaskState.RUNNING)
        assert (running.host_id, running.lease) == ("a", 1)
        await second.start()
        clock.now = T0 + timedelta(seconds=5)
        assert second.hosts is not None
        await second.hosts.beat()  # a beat 5 s ago is within the lease: nothing happens
        assert (await second.get(task.id)).state is TaskState.RUNNING
        clock.now = T0 + timedelta(seconds=11)
        await second.hosts.beat()
        taken = await second.get(task.id)
        assert taken.state is TaskState.INTERRUPTED
        assert (taken.reason or "").startswith(f"{HOST_LOST}: host a")
        assert (taken.host_id, taken.lease) == (None, 2)
        assert [h.id for h in await store.list_hosts() if h.dead_at is not None] == ["a"]
        # The lost host's turn ends now; its runner's writes are refused (fenced).
        first_runtime.gate.set()
        await run_ended(first, task.id)
        assert first.hosts is not None
        await first.hosts.beat()  # it finds it was taken over, stops, registers again
        assert [h.id for h in await store.list_hosts() if h.dead_at is not None] == []
        after = await second.get(task.id)
        assert after.state is TaskState.INTERRUPTED and after.lease == 2
    finally:
        await first.stop()
        await second.stop()


async def test_with_auto_resume_the_task_runs_again_and_the_lost_hosts_ending_is_refused() -> None:
    store, clock = InMemoryStore(), Clock()
    first, first_runtime = host(store, "a", clock, auto_resume=True)
    second, second_runtime = host(store, "b", clock, auto_resume=True)
    await first.start()
    try:
        task = await first.submit("hold", WS)
        await wait_state(first, task.id, TaskState.RUNNING)
        await second.start()
        clock.now = T0 + timedelta(seconds=11)
        assert second.hosts is not None
        await second.hosts.beat()  # takes over, re-queues, wakes its scheduler
        await second_runtime.wait_started(1)
        running = await wait_state(second, task.id, TaskState.RUNNING)
        assert (running.host_id, running.lease) == ("b", 3)
        # The lost host's turn ends while the new holder's runs: the same state (running)
        # it left, so only the lease keeps it from completing the new holder's run.
        first_runtime.gate.set()
        await run_ended(first, task.id)
        still = await second.get(task.id)
        assert (still.state, still.host_id, still.lease) == (TaskState.RUNNING, "b", 3)
        second_runtime.gate.set()
        assert (await wait_state(second, task.id, TaskState.COMPLETED)).host_id == "b"
    finally:
        await first.stop()
        await second.stop()


async def test_a_restart_reconciles_only_its_own_tasks() -> None:
    store, clock = InMemoryStore(), Clock()
    first, _ = host(store, "a", clock)
    await first.start()
    task = await first.submit("hold", WS)
    await wait_state(first, task.id, TaskState.RUNNING)
    other, _ = host(store, "b", clock)
    await other.recover()  # b starting up must not touch a's running task
    assert (await store.get_task(task.id)).state is TaskState.RUNNING  # type: ignore[union-attr]
    await first.stop()


async def test_a_draining_host_claims_nothing_new() -> None:
    store, clock = InMemoryStore(), Clock()
    service, runtime = host(store, "a", clock)
    await service.start()
    try:
        assert await store.set_host_draining("a", True)
        assert service.hosts is not None
        await service.hosts.beat()
        task = await service.submit("hold", WS)
        assert not service.admits()
        assert (await service.get(task.id)).state is TaskState.QUEUED
        await store.set_host_draining("a", False)
        await service.hosts.beat()
        await wait_state(service, task.id, TaskState.RUNNING)
        runtime.gate.set()
    finally:
        await service.stop()


async def test_a_queued_task_is_left_to_the_host_that_ran_it_for_two_beats() -> None:
    store, clock = InMemoryStore(), Clock()
    service, _ = host(store, "b", clock)
    assert service.hosts is not None
    service.hosts.shared = True  # as on PostgreSQL
    queued = Task("t_1", "p", WS, T0, T0, host_id="a")
    assert service.hosts.defers(queued)  # a holds its worktree and thread: a first
    clock.now = T0 + timedelta(seconds=2 * 60 + 1)  # two of b's beats (60 s each) later
    assert not service.hosts.defers(queued)
    assert not service.hosts.defers(replace(queued, host_id="b"))
    assert not service.hosts.defers(replace(queued, host_id=None))  # taken over: anyone


async def test_a_fenced_off_turn_neither_records_an_approval_nor_parks_the_task() -> None:
    """The lost host's Codex asks before it acts, after another host took the task over
    (lease 2 here, the lost host claimed lease 1): nothing is recorded for the task."""
    store = InMemoryStore()
    running = Task("t_1", "p", WS, T0, T0, state=TaskState.RUNNING, host_id="b", lease=2)
    await store.create_task(running)
    writer = TaskWriter(store, EventBus(), sink=None, clock=lambda: T0)
    desk = ApprovalDesk(
        store,
        writer.publish_events,
        ids=IdGenerator(),
        clock=lambda: T0,
        timeout_s=5,
        timeout_decision="decline",
    )
    handler = TaskApprovals(desk, store, writer, "t_1", lease=1)
    request = ApprovalRequest("r1", ApprovalKind.COMMAND, "th", "tu", command="rm -rf x")
    with pytest.raises(LeaseLost):
        await handler(request)
    assert await store.list_pending_approvals(task_id="t_1") == []
    assert (await store.get_task("t_1")) == running


def quick_host(store: InMemoryStore) -> TaskService:
    """A host on a "shared" store with a lease of 0.2 s (it stops its turns 0.15 s after
    its last renewal); the clock here is the loop's, the one the lease is kept on."""
    runtime = ScriptedRuntime(lambda _: gated)
    settings = HostSettings(id="a", version="t", capacity=2, heartbeat_s=0.05, lease_s=0.2)
    service = TaskService(
        store,
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5,
        host=settings,
    )
    return service


async def test_a_host_that_cannot_renew_its_lease_stops_its_turns_before_a_takeover() -> None:
    store = InMemoryStore()
    service = quick_host(store)
    hung = asyncio.Event()
    renew = store.heartbeat

    async def heartbeat(host_id: str, now: datetime) -> object:
        await hung.wait()  # a store that does not answer (a partition): the beat hangs
        return await renew(host_id, now)

    await service.start()
    try:
        assert service.hosts is not None
        service.hosts.shared = True
        task = await service.submit("hold", WS)
        await wait_state(service, task.id, TaskState.RUNNING)
        for _ in range(6):  # beats that renew: the turn runs on
            await asyncio.sleep(0.05)
        assert (await service.get(task.id)).state is TaskState.RUNNING
        store.heartbeat = heartbeat  # type: ignore[method-assign]
        stopped = await wait_state(service, task.id, TaskState.INTERRUPTED)
        assert stopped.lease == 1  # stopped by itself: nobody took it over
        assert service.hosts.lease_left_s() <= 0
        hung.set()  # the store answers again: the lease is renewed
        for _ in range(100):
            if service.hosts.lease_left_s() > 0:
                break
            await asyncio.sleep(0.01)
        assert service.hosts.lease_left_s() > 0
    finally:
        hung.set()
        await service.stop()


async def test_a_host_alone_on_its_store_never_stops_its_turns_for_its_lease() -> None:
    store = InMemoryStore()
    service = quick_host(store)
    never = asyncio.Event()

    async def heartbeat(host_id: str, now: datetime) -> object:
        await never.wait()
        return None

    store.heartbeat = heartbeat  # type: ignore[method-assign]
    await service.start()
    try:
        task = await service.submit("hold", WS)
        await wait_state(service, task.id, TaskState.RUNNING)
        await asyncio.sleep(0.4)  # twice its lease: nobody else can take it over
        assert (await service.get(task.id)).state is TaskState.RUNNING
    finally:
        never.set()
        await service.stop()
