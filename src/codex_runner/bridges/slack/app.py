"""The bolt app: Slack's envelopes in, handed over to :class:`Conversations` unchanged.

No decision is made here. Message events go through one bounded queue and one worker, so a
thread's messages are handled in the order Slack sent them; button clicks are acknowledged
and handled at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from codex_runner.bridges.chat.rules import session_key
from codex_runner.bridges.slack.blocks import ACTION_PREFIX
from codex_runner.bridges.slack.conversations import Conversations
from codex_runner.logs.raw import RawLayer
from codex_runner.logs.records import log_context

log = logging.getLogger(__name__)
INBOUND_QUEUE_SIZE = 1_000


class Inbound:
    """The bounded queue of message events and the worker that drains it."""

    def __init__(self, conversations: Conversations) -> None:
        self._conversations = conversations
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(INBOUND_QUEUE_SIZE)
        self._worker: asyncio.Task[None] | None = None

    def offer(self, body: dict[str, Any]) -> None:
        event = body.get("event")
        event_id = body.get("event_id")
        if not isinstance(event, dict) or not isinstance(event_id, str):
            return
        try:
            self._queue.put_nowait((event_id, event))
        except asyncio.QueueFull:
            log.error(
                "Slack inbound queue full (%d); event %s dropped", INBOUND_QUEUE_SIZE, event_id
            )

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="slack-inbound")

    async def stop(self, timeout: float = 5.0) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._worker, timeout)
            self._worker = None

    async def _run(self) -> None:
        while True:
            event_id, event = await self._queue.get()
            # What is logged while handling it goes to the session's log too (logs/sessions/).
            with log_context(**_about(event)):
                try:
                    await self._conversations.handle_event(event_id, event)
                except Exception:
                    log.exception("Slack event %s could not be handled", event_id)


def _about(event: dict[str, Any]) -> dict[str, str]:
    """The chat session a message event belongs to, for the logs (none if it says none)."""
    channel, thread = event.get("channel"), event.get("thread_ts") or event.get("ts")
    if isinstance(channel, str) and isinstance(thread, str):
        return {"session_key": session_key(channel, thread)}
    return {}


def build_app(
    client: AsyncWebClient,
    inbound: Inbound,
    conversations: Conversations,
    raw_events: RawLayer | None = None,
) -> AsyncApp:
    """The bolt app; ``raw_events`` (``[logs] raw_slack_events``) records every incoming
    envelope, redacted and capped, before anything handles it."""
    app = AsyncApp(
        client=client,
        logger=log,
        # Socket Mode: no HTTP requests to verify, no SSL checks to answer.
        request_verification_enabled=False,
        ssl_check_enabled=False,
        url_verification_enabled=False,
    )

    if raw_events is not None:

        @app.middleware
        async def record_raw(body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> None:
            raw_events.record({"body": body})
            await next_()

    @app.event("message")
    async def on_message(body: dict[str, Any]) -> None:
        inbound.offer(body)

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any]) -> None:
        inbound.offer(body)

    @app.action(re.compile("^" + re.escape(ACTION_PREFIX)))
    async def on_approval(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = (body.get("user") or {}).get("id")
        decision = str(action.get("action_id", "")).removeprefix(ACTION_PREFIX)
        approval_id = action.get("value")
        if isinstance(user, str) and isinstance(approval_id, str) and decision:
            await conversations.handle_approval_action(user, approval_id, decision)

    return app
