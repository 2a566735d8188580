"""The Slack intake tags what is logged while it handles a message with the message's chat
session, so the layered logs copy it to logs/sessions/<session-key>/."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, cast

from codex_runner.bridges.chat.rules import session_key
from codex_runner.bridges.slack.app import Inbound
from codex_runner.bridges.slack.conversations import Conversations
from codex_runner.logs import LayeredLogHandler, LogLayout, LogWriter

log = logging.getLogger("codex_runner.bridges.slack.test")


class LoggingConversations:
    def __init__(self) -> None:
        self.handled = asyncio.Event()

    async def handle_event(self, event_id: str, event: dict[str, Any]) -> None:
        log.warning("handling %s", event_id)
        self.handled.set()


async def test_records_logged_while_handling_a_message_reach_its_session_log(
    tmp_path: Path,
) -> None:
    writer = LogWriter()
    handler = LayeredLogHandler(LogLayout(tmp_path), writer)
    log.addHandler(handler)
    conversations = LoggingConversations()
    inbound = Inbound(cast(Conversations, conversations))
    inbound.start()
    try:
        body = {"event_id": "Ev1", "event": {"channel": "C1", "ts": "17.5", "text": "hi"}}
        inbound.offer(body)
        async with asyncio.timeout(10):
            await conversations.handled.wait()
        log.warning("after the event")  # outside: the runner's log only
        assert writer.flush()
    finally:
        await inbound.stop()
        log.removeHandler(handler)
        writer.close()
    session = LogLayout(tmp_path).session(session_key("C1", "17.5"))
    text = "".join(f.read_text() for f in session.glob("*.jsonl"))
    assert "handling Ev1" in text and "after the event" not in text
