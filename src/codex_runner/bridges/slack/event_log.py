"""Slack interactions recorded in the task's durable event log (``slack.*`` events)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from codex_runner.domain.durable_event import NewEvent
from codex_runner.service.event_bus import EventBus
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

SESSION_STARTED = "slack.session_started"
MESSAGE_RECEIVED = "slack.message_received"
MESSAGE_QUEUED = "slack.message_queued"
MESSAGE_DISPATCHED = "slack.message_dispatched"
COMMAND = "slack.command"
APPROVAL_ACTION = "slack.approval_action"
DELIVERED = "slack.delivered"
DELIVERY_RETRY = "slack.delivery_retry"
DELIVERY_DROPPED = "slack.delivery_dropped"
HELPER_CALL = "slack.helper_call"
SLACK_PREFIX = "slack."


class TaskLog:
    """Appends to the task's history (commit first), then publishes to the bus."""

    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus

    async def record(self, task_id: str | None, type: str, data: dict[str, Any]) -> None:
        if task_id is None:
            return
        try:
            seqs = await self._store.append_events(
                task_id, [NewEvent(type, datetime.now(UTC), data)]
            )
            events = await self._store.read_events(
                task_id, after_seq=min(seqs) - 1, limit=len(seqs)
            )
        except Exception:
            log.exception("could not record %s on task %s", type, task_id)
            return
        self._bus.publish(events)
