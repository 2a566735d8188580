"""A chat bridge's interactions, recorded in the task's durable event log.

Each bridge names its events after itself (``slack.message_queued``, ``link.delivered``), so
the history says where a message came from; the chat core records them by what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

# What happened, recorded as "<bridge>.<what>".
SESSION_STARTED = "session_started"
MESSAGE_RECEIVED = "message_received"
MESSAGE_QUEUED = "message_queued"
MESSAGE_DISPATCHED = "message_dispatched"
COMMAND = "command"
APPROVAL_ACTION = "approval_action"
DELIVERED = "delivered"
DELIVERY_RETRY = "delivery_retry"
DELIVERY_DROPPED = "delivery_dropped"

# (task_id, type, data): TaskService.record_event, which commits, then publishes.
RecordEvent = Callable[[str, str, dict[str, Any]], Awaitable[object]]


class TaskLog:
    """Records what happened in a chat in the task's history, through the service.

    A record that fails is logged, not raised: what it records already happened in the chat.
    """

    def __init__(
        self,
        record_event: RecordEvent,
        *,
        bridge: str,
        message_key: str = "message_id",
        thread_key: str = "thread",
    ) -> None:
        if not bridge or "." in bridge:
            raise ValueError(f"a bridge's name is one word without dots, not {bridge!r}")
        self._record_event = record_event
        self.bridge = bridge
        # The keys a message's id and a chat thread's id are recorded under, in the chat's
        # own words (Slack's records say "ts" and "thread_ts", as they always have).
        self.message_key = message_key
        self.thread_key = thread_key

    @property
    def prefix(self) -> str:
        """What every event type this log records starts with (``slack.``)."""
        return self.bridge + "."

    async def record(self, task_id: str | None, what: str, data: dict[str, Any]) -> None:
        """Record ``<bridge>.<what>`` on the task (nothing without a task)."""
        if task_id is None:
            return
        type = self.prefix + what
        try:
            await self._record_event(task_id, type, data)
        except Exception:
            log.exception("could not record %s on task %s", type, task_id)
