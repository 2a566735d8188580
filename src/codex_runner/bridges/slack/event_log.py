"""Slack interactions recorded in the task's durable event log (``slack.*`` events)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

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


# (task_id, type, data): TaskService.record_event, which commits, then publishes.
RecordEvent = Callable[[str, str, dict[str, Any]], Awaitable[object]]


class TaskLog:
    """Records what happened in Slack in the task's history, through the service.

    A record that fails is logged, not raised: what it records already happened in Slack.
    """

    def __init__(self, record_event: RecordEvent) -> None:
        self._record_event = record_event

    async def record(self, task_id: str | None, type: str, data: dict[str, Any]) -> None:
        if task_id is None:
            return
        try:
            await self._record_event(task_id, type, data)
        except Exception:
            log.exception("could not record %s on task %s", type, task_id)
