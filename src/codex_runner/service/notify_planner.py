"""Committed task events become outbox notifications (docs/notifications.md).

Enqueued idempotently right after the event is committed, not in its transaction: the
planner follows the event bus, and each notification's id comes from its target and the
event (task, seq), so enqueuing it again changes nothing. What a crash between the commit
and the enqueue would lose, :meth:`NotifyPlanner.catch_up` finds at the next start: it
re-reads the last events of the tasks that changed within ``CATCH_UP_WINDOW``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.notify import (
    Notification,
    NotifyKind,
    cut,
    kind_of,
    notification_id,
    payload,
)
from codex_runner.domain.task import Task, TaskState
from codex_runner.service.event_bus import EventBus, Lagged, Subscription
from codex_runner.service.notify_targets import NotifyTargets
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

CATCH_UP_WINDOW = timedelta(hours=24)
CATCH_UP_TASKS = 500  # the newest tasks a start looks at
CATCH_UP_EVENTS = 200  # the last events of each it re-reads
_CATCH_UP_STATES = (
    TaskState.COMPLETED,
    TaskState.FAILED,
    TaskState.INTERRUPTED,
    TaskState.AWAITING_APPROVAL,
)
PROMPT_SHOWN = 500


def task_data(task: Task) -> dict[str, Any]:
    """What every task notification says of its task (long texts cut)."""
    data: dict[str, Any] = {
        "task_id": task.id,
        "state": task.state.value,
        "prompt": cut(task.prompt[:PROMPT_SHOWN]),
    }
    optional = {
        "reason": cut(task.reason),
        "final_message": cut(task.final_message),
        "purpose": task.purpose,
        "graph_id": task.graph_id,
        "parent_id": task.parent_id,
        "branch": task.branch,
        "metadata": dict(task.metadata) or None,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    return data


def _event_data(kind: NotifyKind, event: TaskEvent) -> dict[str, Any]:
    keep: Mapping[NotifyKind, tuple[str, ...]] = {
        NotifyKind.TASK_AWAITING_APPROVAL: ("approval_id", "kind", "command", "cwd", "reason"),
        NotifyKind.GRAPH_COMPLETED: ("graph_id", "state", "reason"),
        NotifyKind.AUTH_RATE_LIMITED: ("from", "to", "error"),
    }
    return {k: cut(event.data[k]) for k in keep.get(kind, ()) if k in event.data}


class NotifyPlanner:
    """Turns events into notifications for their targets and enqueues them."""

    def __init__(
        self,
        store: Store,
        targets: NotifyTargets,
        *,
        clock: Callable[[], datetime],
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._targets = targets
        self._clock = clock
        self._on_enqueued = on_enqueued

    async def plan(self, event: TaskEvent, task: Task | None = None) -> list[Notification]:
        """The notifications ``event`` makes (none for most events)."""
        kind = kind_of(event)
        if kind is None:
            return []
        task = task or await self._store.get_task(event.task_id)
        targets = self._targets.for_kind(kind, task.session.notify if task else ())
        if not targets:
            return []
        data: dict[str, Any] = task_data(task) if task else {"task_id": event.task_id}
        if kind is NotifyKind.TASK_AWAITING_APPROVAL:
            data["state"] = TaskState.AWAITING_APPROVAL.value  # what it is at this event
        data.update(event=event.type, seq=event.seq)
        data.update(_event_data(kind, event))
        now = self._clock()
        made = []
        for target in targets:
            nid = notification_id(target.key, event.task_id, str(event.seq))
            made.append(
                Notification(
                    id=nid,
                    url=target.url,
                    webhook=target.webhook,
                    order_key=event.task_id,
                    kind=kind.value,
                    body=payload(nid, kind.value, event.at, data),
                    created_at=now,
                    next_attempt_at=now,
                )
            )
        return made

    async def enqueue(self, events: list[TaskEvent]) -> int:
        made: list[Notification] = []
        for event in events:
            made += await self.plan(event)
        added = await self._store.enqueue_notifications(made) if made else 0
        if added:
            self._on_enqueued()
        return added

    async def notify_other(
        self, kind: NotifyKind, order_key: str, position: str, data: dict[str, Any]
    ) -> int:
        """Enqueue a notification no task event carries (``disk.low``): ``position`` makes
        its id (the same position again is the same notification)."""
        now = self._clock()
        made = []
        for target in self._targets.for_kind(kind.value):
            nid = notification_id(target.key, order_key, position)
            body = payload(nid, kind.value, now, data)
            made.append(
                Notification(nid, target.url, target.webhook, order_key, kind.value, body, now, now)
            )
        added = await self._store.enqueue_notifications(made) if made else 0
        if added:
            self._on_enqueued()
        return added

    async def catch_up(self) -> int:
        """Enqueue what the tasks that changed lately should have made (after a crash);
        returns how many were new."""
        if not self._targets.any_configured:
            return 0
        since = self._clock() - CATCH_UP_WINDOW
        tasks = await self._store.list_tasks(states=_CATCH_UP_STATES, limit=CATCH_UP_TASKS)
        added = 0
        for task in tasks:
            if task.updated_at < since:
                continue
            last = await self._store.last_seq(task.id)
            events = await self._store.read_events(
                task.id, after_seq=max(0, last - CATCH_UP_EVENTS), limit=CATCH_UP_EVENTS
            )
            made: list[Notification] = []
            for event in events:
                if event.at >= since and kind_of(event) is not None:
                    made += await self.plan(event, task)
            if made:
                added += await self._store.enqueue_notifications(made)
        if added:
            log.info("notifications: %d found by the catch-up after a restart", added)
            self._on_enqueued()
        return added

    async def follow(self, bus: EventBus, first: Subscription | None = None) -> None:
        """Enqueue the notifications of every committed event, forever (from ``first``, a
        subscription taken before a catch-up, so nothing falls between them); a lag (the
        bus's queue overflowed) is caught up from the store."""
        sub = first or bus.subscribe()
        while True:
            try:
                async for event in sub:
                    if kind_of(event) is None:
                        continue
                    try:
                        await self.enqueue([event])
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("notifications: enqueuing for %s failed", event.task_id)
                return  # the bus closed the subscription
            except Lagged:
                log.warning("notifications: the event bus lagged; catching up from the store")
            finally:
                sub.close()
            sub = bus.subscribe()
            await self.catch_up()
