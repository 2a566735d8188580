"""Notifications at the service level: the real SQLite store, a real webhook receiver on
127.0.0.1 that checks signatures and fails on purpose, and an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_runner.config.notify import NotifySettings
from codex_runner.domain import durable_event as de
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.notify import DeliveryState
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.domain.task_options import InvalidOption, SessionOptions
from codex_runner.domain.transitions import Action
from codex_runner.service.event_bus import EventBus
from codex_runner.service.notify_service import Notifier
from codex_runner.service.notify_targets import NotifyTargets
from codex_runner.store.sql import SqlStore

from ...support.postgres import PostgresServer
from ...support.webhook_receiver import WebhookReceiver, webhook_receiver

SECRET = "receiver-secret-0123456789"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver(SECRET) as r:
        yield r


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    async with await SqlStore.open(tmp_path / "runner.sqlite") as opened:
        yield opened


def settings(receiver: WebhookReceiver, **more: Any) -> NotifySettings:
    hook = {"url": receiver.url, "secret": SECRET, "name": "ops"}
    return NotifySettings.model_validate({"webhooks": [hook], **more})


async def run_task(
    store: SqlStore, task_id: str, *actions: Action, **fields: Any
) -> list[TaskEvent]:
    """A task taken through ``actions``; its events."""
    task = Task(task_id, "fix the bug", WorkspaceRequest.directory("/w"), T0, T0, **fields)
    await store.create_task(task)
    for action in actions:
        after, event = de.transition(task, action, now=T0, reason="because")
        await store.update_task(after, expected_state=task.state, events=[event])
        task = after
    return await store.read_events(task_id)


def notifier(store: SqlStore, receiver: WebhookReceiver, clock: Clock, **more: Any) -> Notifier:
    return Notifier(store, EventBus(), settings(receiver, **more), host_id="h1", clock=clock)


async def test_a_task_s_notifications_arrive_signed_in_order_through_failures(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    n = notifier(store, receiver, clock)
    first = await run_task(store, "t_1", Action.START, Action.INTERRUPT)
    later = await run_task(store, "t_2", Action.START, Action.FAIL)
    await n.planner.enqueue(first + later)
    receiver.failing = 2
    try:
        # Both tasks' first notifications are tried at once; both fail.
        assert await n.deliverer.deliver_due() == 2
        assert await n.deliverer.deliver_due() == 0  # backing off
        clock.advance(hours=1)
        assert await n.deliverer.deliver_due() == 2
        bodies = receiver.wait_for(2)
    finally:
        await n.stop()
    assert sorted((b["kind"], b["data"]["task_id"]) for b in bodies) == [
        ("task.failed", "t_2"),
        ("task.interrupted", "t_1"),
    ]
    body = next(b for b in bodies if b["data"]["task_id"] == "t_2")
    assert body["data"]["state"] == "failed" and body["data"]["reason"] == "because"
    assert receiver.bad_signatures == 0
    statuses = [r.status for r in receiver.received]
    assert statuses == [500, 500, 200, 200]
    [delivered] = await store.list_notifications(state=DeliveryState.DELIVERED, limit=1)
    attempts = await store.notification_attempts(delivered.id)
    assert [a.status_code for a in attempts] == [500, 200]


async def test_a_later_notification_waits_for_the_earlier_of_its_task(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    n = notifier(store, receiver, clock)
    task = Task("t_1", "p", WorkspaceRequest.directory("/w"), T0, T0)
    await store.create_task(task)
    events = [
        TaskEvent("t_1", 2, "approval.requested", T0, {"approval_id": "a_1", "command": "ls"}),
        TaskEvent("t_1", 3, "approval.requested", T0, {"approval_id": "a_2", "command": "rm"}),
        TaskEvent("t_1", 4, "task.state_changed", T0, {"to": "completed"}),
    ]
    await n.planner.enqueue(events)
    receiver.failing = 1
    try:
        for _ in range(4):
            await n.deliverer.deliver_due()
            clock.advance(minutes=30)
        receiver.wait_for(3)
    finally:
        await n.stop()
    got = [(r.body["data"]["seq"], r.status) for r in receiver.received]
    assert got == [(2, 500), (2, 200), (3, 200), (4, 200)]
    assert receiver.received[0].body["data"]["command"] == "ls"


async def test_a_delivery_is_given_up_after_a_day_and_the_next_one_goes_on(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    n = notifier(store, receiver, clock)
    events = await run_task(store, "t_1", Action.START, Action.INTERRUPT, Action.RESUME)
    events += [TaskEvent("t_1", 9, "task.state_changed", T0, {"to": "completed"})]
    await n.planner.enqueue(events)
    receiver.always_fail = True
    try:
        await n.deliverer.deliver_due()
        clock.advance(hours=25)
        await n.deliverer.deliver_due()  # the second failure is past the day: given up
        receiver.always_fail = False
        await n.deliverer.deliver_due()
    finally:
        await n.stop()
    [given_up] = await store.list_notifications(state=DeliveryState.GIVEN_UP)
    assert (given_up.kind, given_up.attempts, given_up.last_status) == ("task.interrupted", 2, 500)
    assert [b["kind"] for b in receiver.accepted()] == ["task.completed"]


async def test_a_receiver_that_is_down_is_recorded_without_its_url(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    url = receiver.url
    receiver.stop()
    n = notifier(store, receiver, clock)
    await n.planner.enqueue(await run_task(store, "t_1", Action.START, Action.FAIL))
    try:
        await n.deliverer.deliver_due()
    finally:
        await n.stop()
    [row] = await store.list_notifications(state=DeliveryState.PENDING)
    assert row.attempts == 1 and row.last_status is None
    assert row.last_error and url not in row.last_error


async def test_the_catch_up_enqueues_what_a_crash_left_out_once(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    clock.advance(minutes=5)
    n = notifier(store, receiver, clock)
    await run_task(store, "t_1", Action.START, Action.INTERRUPT)
    await run_task(store, "t_2", Action.START)  # running: nothing to tell yet
    try:
        assert await n.planner.catch_up() == 1
        assert await n.planner.catch_up() == 0
    finally:
        await n.stop()
    [row] = await store.list_notifications()
    assert (row.kind, row.order_key, row.webhook) == ("task.interrupted", "t_1", "ops")


async def test_the_daemon_s_notifier_delivers_what_the_bus_carries(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    bus = EventBus()
    n = Notifier(store, bus, settings(receiver), host_id="h1", clock=lambda: datetime.now(UTC))
    await n.start()
    try:
        bus.publish(await run_task(store, "t_1", Action.START, Action.FAIL))
        [body] = await asyncio.to_thread(receiver.wait_for, 1)
    finally:
        await n.stop()
    assert (body["kind"], body["data"]["task_id"]) == ("task.failed", "t_1")


async def test_a_task_s_own_notify_reaches_its_webhook_even_for_kinds_it_filters(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    hooks = [{"url": receiver.url, "secret": SECRET, "name": "ops", "events": ["disk.low"]}]
    n = Notifier(
        store,
        EventBus(),
        NotifySettings.model_validate({"webhooks": hooks}),
        host_id="h1",
        clock=clock,
    )
    await n.planner.enqueue(await run_task(store, "t_1", Action.START, Action.FAIL))
    opted = SessionOptions(notify=("ops",))
    await n.planner.enqueue(await run_task(store, "t_2", Action.START, Action.FAIL, session=opted))
    try:
        await n.deliverer.deliver_due()
    finally:
        await n.stop()
    assert [b["data"]["task_id"] for b in receiver.wait_for(1)] == ["t_2"]


def test_a_task_s_notify_list_names_configured_webhooks_or_signed_urls() -> None:
    hooks = [{"url": "https://ops.test/h", "secret": SECRET, "name": "ops"}]
    targets = NotifyTargets(NotifySettings.model_validate({"webhooks": hooks}))
    assert targets.check(["ops", "https://ops.test/h", "ops"]) == ("ops", "https://ops.test/h")
    with pytest.raises(InvalidOption, match="configured names are ops"):
        targets.check(["opz"])
    with pytest.raises(InvalidOption, match="task_webhook_secret"):
        targets.check(["https://elsewhere.test/h"])
    shared = NotifySettings.model_validate(
        {"webhooks": hooks, "task_webhook_secret": "shared-secret-0123456789"}
    )
    open_targets = NotifyTargets(shared)
    assert open_targets.check(["https://elsewhere.test/h"]) == ("https://elsewhere.test/h",)
    found = open_targets.for_kind("task.failed", ["https://elsewhere.test/h", "ops"])
    assert [(t.url, t.webhook) for t in found] == [
        ("https://ops.test/h", "ops"),
        ("https://elsewhere.test/h", None),
    ]


async def test_disk_low_is_told_once_an_hour(store: SqlStore, receiver: WebhookReceiver) -> None:
    clock = Clock()
    n = notifier(store, receiver, clock)
    try:
        assert await n.disk_low(10, 100, at=T0) == 1
        assert await n.disk_low(9, 100, at=T0 + timedelta(minutes=5)) == 0
        assert await n.disk_low(8, 100, at=T0 + timedelta(hours=1)) == 1
        await n.deliverer.deliver_due()
    finally:
        await n.stop()
    bodies = receiver.wait_for(1)
    assert bodies[0]["kind"] == "disk.low"
    assert bodies[0]["data"] == {"free_bytes": 10, "min_free_bytes": 100}


async def test_the_disk_policy_s_hook_enqueues_disk_low_without_blocking(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    @dataclass(frozen=True)
    class Low:
        free_bytes: int
        min_free_bytes: int
        at: datetime

    n = notifier(store, receiver, Clock())
    try:
        n.on_disk_low(Low(5, 50, T0))  # called from the policy's loop: returns at once
        for _ in range(100):
            if await store.list_notifications():
                break
            await asyncio.sleep(0.01)
    finally:
        await n.stop()
    [row] = await store.list_notifications()
    assert (row.kind, row.order_key) == ("disk.low", "disk")


async def test_deliveries_are_kept_for_keep_s_after_they_finish(
    store: SqlStore, receiver: WebhookReceiver
) -> None:
    clock = Clock()
    n = notifier(store, receiver, clock, keep_s=3600)
    await n.planner.enqueue(await run_task(store, "t_1", Action.START, Action.FAIL))
    try:
        await n.deliverer.deliver_due()
        clock.advance(minutes=59)
        assert await n.prune() == 0
        clock.advance(minutes=2)
        assert await n.prune() == 1
    finally:
        await n.stop()
    assert await store.list_notifications() == []


async def test_two_hosts_on_one_postgresql_store_deliver_each_notification_once(
    postgres: PostgresServer, receiver: WebhookReceiver
) -> None:
    url = postgres.new_database()
    stores = [await SqlStore.open(url), await SqlStore.open(url)]
    hosts = [
        Notifier(
            s, EventBus(), settings(receiver), host_id=f"h{i}", clock=lambda: datetime.now(UTC)
        )
        for i, s in enumerate(stores)
    ]
    events = [
        TaskEvent(f"t_{n}", 2, "task.state_changed", T0, {"to": "completed"}) for n in range(30)
    ]
    await hosts[0].planner.enqueue(events)
    running = [asyncio.create_task(h.deliverer.run()) for h in hosts]
    try:
        await asyncio.to_thread(receiver.wait_for, 30)
        for _ in range(500):  # the last attempts are being recorded (10 s at most)
            if not await stores[1].list_notifications(state=DeliveryState.PENDING):
                break
            await asyncio.sleep(0.02)
        assert len(await stores[1].list_notifications(state=DeliveryState.DELIVERED)) == 30
    finally:
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for h in hosts:
            await h.stop()
        for s in stores:
            await s.close()
    ids = [r.delivery for r in receiver.received]
    assert len(ids) == len(set(ids)) == 30
