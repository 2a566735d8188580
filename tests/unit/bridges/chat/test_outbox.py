"""The outbox against the in-memory chat: order per thread, retries, drops, edits by ref."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from codex_runner.bridges.chat.bridge_db import BridgeDb, Post, Session
from codex_runner.bridges.chat.memory import InMemoryChat
from codex_runner.bridges.chat.outbox import Outbox, backoff_delay
from codex_runner.bridges.chat.task_log import TaskLog


class Recorded:
    """The task log's records, by type."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    async def __call__(self, task_id: str, type: str, data: dict[str, Any]) -> None:
        self.events.append((task_id, type, data))

    def types(self) -> list[str]:
        return [t for _, t, _ in self.events]


def post(text: str, op: str = "post", lane: str = "k", **extra: Any) -> Post:
    return Post(lane, "C1", op, {"text": text, **extra}, thread=f"{lane}.1", task_id="t1")


async def deliver_all(db: BridgeDb, chat: InMemoryChat, recorded: Recorded) -> None:
    outbox = Outbox(
        db, chat, TaskLog(recorded, bridge="chat"), retry_base_s=0.001, retry_max_s=0.01
    )
    outbox.start()
    try:
        outbox.notify()
        await outbox.wait_idle(5)
    finally:
        await outbox.stop()


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_posts_survive_an_outage_in_order_and_refused_ones_are_recorded(
    tmp_path: Path,
) -> None:
    db = BridgeDb(tmp_path / "chat.sqlite")
    db.add_session(Session("k", "C1", "k.1", "t1", "U1"))
    chat = InMemoryChat()
    chat.down = 3
    chat.refuse_prefix = "bad"
    recorded = Recorded()
    db.enqueue_posts(
        [
            post("one", ref="status:1"),
            post("two"),
            post("bad one"),
            post("done", "update", ref="status:1"),
        ]
    )
    await deliver_all(db, chat, recorded)
    assert chat.thread("C1", "k.1") == ["done", "two"]
    assert chat.messages["m1"].history == ["one", "done"]
    types = recorded.types()
    assert types.count("chat.delivery_retry") == 3
    assert types.count("chat.delivery_dropped") == 1
    assert types.count("chat.delivered") == 3
    assert db.outbox_size() == 0


async def test_one_threads_outage_does_not_hold_up_the_others(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "chat.sqlite")
    chat = InMemoryChat()
    chat.refuse_prefix = "never"
    db.enqueue_posts([post("a1", lane="a"), post("b1", lane="b"), post("a2", lane="a")])
    await deliver_all(db, chat, Recorded())
    assert chat.thread("C1", "a.1") == ["a1", "a2"]
    assert chat.thread("C1", "b.1") == ["b1"]


async def test_an_edit_of_a_message_never_posted_is_dropped_with_the_reason(
    tmp_path: Path,
) -> None:
    db = BridgeDb(tmp_path / "chat.sqlite")
    chat = InMemoryChat()
    recorded = Recorded()
    db.enqueue_posts([post("edit", "update", ref="status:9"), post("after")])
    await deliver_all(db, chat, recorded)
    assert chat.thread("C1", "k.1") == ["after"]
    (dropped,) = [d for _, t, d in recorded.events if t == "chat.delivery_dropped"]
    assert "status:9" in dropped["error"]


def test_a_bridge_name_with_a_dot_is_refused() -> None:
    with pytest.raises(ValueError, match="one word"):
        TaskLog(Recorded(), bridge="slack.x")


async def test_retry_now_sends_what_waits_out_a_backoff_at_once(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "chat.sqlite")
    chat = InMemoryChat()
    chat.down = 1
    db.enqueue_posts([post("after the outage")])
    outbox = Outbox(db, chat, TaskLog(Recorded(), bridge="chat"), retry_base_s=600, retry_max_s=600)
    outbox.start()
    try:
        async with asyncio.timeout(5):
            while chat.calls < 1 or db.outbox_heads()[0].next_at == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # until the first try failed and waits 600 s
        outbox.retry_now()
        await outbox.wait_idle(5)
    finally:
        await outbox.stop()
    assert chat.thread("C1", "k.1") == ["after the outage"]
