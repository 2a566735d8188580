"""``[notify] slack_channel``: the completions and failures of tasks that did not come from
Slack, posted to one channel (docs/notifications.md).

Posts go through the bridge's durable outbox (retried while Slack is down, in order). They
are queued when the bus hands out the task's final state change: one the daemon was not up
to see (it crashed in between) is not posted; the webhooks are the durable channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from codex_runner.bridges.chat.bridge_db import POST, BridgeDb, Post
from codex_runner.bridges.chat.outbox import Outbox
from codex_runner.bridges.slack.mrkdwn import to_mrkdwn
from codex_runner.domain.durable_event import STATE_CHANGE_TYPES
from codex_runner.domain.task import Task, TaskState
from codex_runner.service.event_bus import EventBus, Lagged
from codex_runner.service.tasks import TaskService

log = logging.getLogger(__name__)

LANE = "notify-channel"
PROMPT_SHOWN = 200
TEXT_SHOWN = 1500
_TOLD = frozenset({TaskState.COMPLETED.value, TaskState.FAILED.value})


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def announcement(task: Task) -> str:
    """The channel message for a finished task (mrkdwn)."""
    prompt = _cut(" ".join(task.prompt.split()), PROMPT_SHOWN)
    if task.state is TaskState.COMPLETED:
        head = f":white_check_mark: Task `{task.id}` completed: {prompt}"
        detail = task.final_message
    else:
        head = f":x: Task `{task.id}` failed: {prompt}"
        detail = task.reason
    return head if not detail else f"{head}\n{to_mrkdwn(_cut(detail, TEXT_SHOWN))}"


def came_from_slack(task: Task, db: BridgeDb) -> bool:
    # A Slack thread's tasks carry its session in their idempotency key (chat.sessions).
    key = task.idempotency_key or ""
    return key.startswith("slack:") or db.session_by_task(task.id) is not None


class FinishedTasks:
    """Follows the bus and queues a channel post for each task that ends, not from Slack."""

    def __init__(
        self, service: TaskService, bus: EventBus, db: BridgeDb, outbox: Outbox, channel: str
    ) -> None:
        self._service = service
        self._bus = bus
        self._db = db
        self._outbox = outbox
        self._channel = channel
        self._job: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._job = asyncio.create_task(self._run(), name="slack-finished-tasks")

    async def stop(self, timeout: float) -> None:
        if self._job is None:
            return
        self._job.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._job, timeout)
        self._job = None

    async def _run(self) -> None:
        while True:
            try:
                async with self._bus.subscribe() as events:
                    async for event in events:
                        if event.type in STATE_CHANGE_TYPES and event.data.get("to") in _TOLD:
                            await self._tell(event.task_id)
                return
            except Lagged:
                log.warning("slack_channel: the event bus lagged; some endings were not posted")

    async def _tell(self, task_id: str) -> None:
        try:
            task = await self._service.get(task_id)
            if came_from_slack(task, self._db):
                return
            post = Post(LANE, self._channel, POST, {"text": announcement(task)}, task_id=task.id)
            self._db.enqueue_posts([post])
            self._outbox.notify()
        except Exception:
            log.exception("slack_channel: could not post the end of task %s", task_id)
