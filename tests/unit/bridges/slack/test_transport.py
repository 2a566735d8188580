from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import BridgeDb, Post, Session
from codex_runner.bridges.chat.outbox import Outbox
from codex_runner.bridges.slack.api import BotIdentity, SlackRejected, SlackUnavailable
from codex_runner.bridges.slack.event_log import slack_task_log
from codex_runner.bridges.slack.transport import SlackTransport
from codex_runner.domain.durable_event import NewEvent
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.store.memory import InMemoryStore

from ..chat.transport_contract import REFUSED, ChatTransportContract


class FlakySlack:
    """A SlackApi whose posts fail while ``down`` and refuse texts starting with 'bad'."""

    def __init__(self) -> None:
        self.down = 0  # how many more calls fail
        self.posted: list[str] = []
        self.updated: list[tuple[str, str]] = []

    async def auth_test(self) -> BotIdentity:
        return BotIdentity("UBOT", None, None, None)

    async def post_message(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]] | None
    ) -> str:
        if self.down:
            self.down -= 1
            raise SlackUnavailable("chat.postMessage: internal_error")
        if text.startswith(REFUSED):
            raise SlackRejected("chat.postMessage", "invalid_blocks")
        self.posted.append(text)
        return f"{len(self.posted)}.000001"

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        self.updated.append((ts, text))

    async def add_reaction(self, channel: str, ts: str, name: str) -> None: ...

    async def upload_file(
        self, channel: str, thread_ts: str | None, path: Path, filename: str, comment: str | None
    ) -> str:
        return "F1"

    async def replies(self, channel: str, thread_ts: str, limit: int) -> list[dict[str, Any]]:
        return []

    async def user_name(self, user_id: str) -> str | None:
        return None

    async def download(self, url: str, max_bytes: int = 0) -> bytes:
        return b""


async def test_slack_gets_the_posts_after_an_outage_and_records_them_as_slack_events(
    tmp_path: Path,
) -> None:
    store = InMemoryStore()
    now = datetime.now(UTC)
    task = Task(
        id="t1",
        prompt="p",
        workspace=WorkspaceRequest.directory("/tmp"),
        created_at=now,
        updated_at=now,
    )
    await store.create_task(task)
    db = BridgeDb(tmp_path / "s.sqlite")
    db.add_session(Session("k", "C1", "1.1", "t1", "U1"))
    slack = FlakySlack()
    slack.down = 3

    async def record(task_id: str, type: str, data: dict[str, Any]) -> None:
        await store.append_events(task_id, [NewEvent(type, datetime.now(UTC), data)])

    outbox = Outbox(
        db, SlackTransport(slack), slack_task_log(record), retry_base_s=0.001, retry_max_s=0.01
    )

    def p(text: str, op: str = "post", **extra: Any) -> Post:
        return Post("k", "C1", op, {"text": text, **extra}, thread="1.1", task_id="t1")

    db.enqueue_posts(
        [p("one", ref="status:1"), p("two"), p("bad one"), p("done", "update", ref="status:1")]
    )
    outbox.start()
    try:
        outbox.notify()
        await outbox.wait_idle(5)
    finally:
        await outbox.stop()
    assert slack.posted == ["one", "two"]
    assert slack.updated == [("1.000001", "done")]
    types = [e.type for e in await store.read_events("t1")]
    assert types.count("slack.delivery_retry") == 3
    assert types.count("slack.delivery_dropped") == 1
    assert types.count("slack.delivered") == 3
    delivered = [e.data for e in await store.read_events("t1") if e.type == "slack.delivered"]
    assert delivered[0] == {
        "op": "post",
        "channel": "C1",
        "ts": "1.000001",
        "thread_ts": "1.1",
        "text": "one",
    }


class TestSlackTransport(ChatTransportContract):
    def setup_method(self) -> None:
        self.slack = FlakySlack()
        self.transport = SlackTransport(self.slack)

    def take_down(self, calls: int) -> None:
        self.slack.down = calls
