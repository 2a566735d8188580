"""The status message's live edits: which answer text shows when, and that an edit on its
way finishes before the outbox sends the thread's next durable update."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import BridgeDb, Post, Session
from codex_runner.bridges.chat.live_status import LiveAnswer, LiveStatus
from codex_runner.bridges.chat.memory import InMemoryChat, PlainRenderer
from codex_runner.bridges.chat.outbox import Outbox
from codex_runner.bridges.chat.session_locks import StatusLocks
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType
from codex_runner.service.event_bus import EventBus

NOW = datetime.now(UTC)
SESSION = Session("k", "C1", "1.1", "t1", "U1")


def codex(seq: int, event: CodexEvent) -> TaskEvent:
    return TaskEvent("t1", seq, "codex." + event.kind.value, NOW, event.to_dict())


def answer_completed(item_id: str, text: str) -> TaskEvent:
    item = Item(item_id, ItemType.AGENT_MESSAGE, text=text)
    return codex(9, CodexEvent(EventKind.ITEM_COMPLETED, item=item))


def piece(text: str, item_id: str = "m1") -> Delta:
    return Delta(item_id, DeltaKind.AGENT_MESSAGE, text)


RENDER = PlainRenderer()
WRITING = RENDER.writing("")
TURN_STARTED = codex(3, CodexEvent(EventKind.TURN_STARTED))


def test_the_answer_shows_as_it_grows_once_the_turn_has_a_status_message() -> None:
    live = LiveAnswer()
    live.add(piece("The ans"))
    assert live.pending is None  # no status message to edit yet
    live.saw(TURN_STARTED, "status:3", turn_ended=False)
    assert live.pending == "The ans"
    live.shown = live.text  # sent
    assert live.pending is None
    live.add(piece("wer"))
    assert live.pending == "The answer"


def test_a_completed_answer_shows_no_more_and_its_late_pieces_are_ignored() -> None:
    live = LiveAnswer()
    live.saw(TURN_STARTED, "status:3", turn_ended=False)
    live.add(piece("The answer"))
    live.saw(answer_completed("m1", "The answer."), "status:3", turn_ended=False)
    assert live.pending is None
    live.add(piece("."))  # taken from the channel after the relay saw the completion
    assert live.pending is None
    live.add(piece("Next one", item_id="m2"))  # a later answer of the same turn shows
    assert live.pending == "Next one"


def test_an_ended_turn_shows_nothing_and_its_answer_never_reaches_the_next_turn() -> None:
    live = LiveAnswer()
    live.saw(TURN_STARTED, "status:3", turn_ended=False)
    live.add(piece("Interrupted mid"))
    ended = TaskEvent("t1", 5, "task.state_changed", NOW, {"to": "interrupted"})
    live.saw(ended, None, turn_ended=True)
    assert live.pending is None
    live.add(piece("-sentence"))
    live.saw(codex(6, CodexEvent(EventKind.TURN_STARTED)), "status:6", turn_ended=False)
    assert live.pending is None
    live.add(piece("Fresh", item_id="m2"))
    assert live.pending == "Fresh"


def test_other_kinds_of_delta_do_not_show() -> None:
    live = LiveAnswer()
    live.saw(TURN_STARTED, "status:3", turn_ended=False)
    for kind in (DeltaKind.REASONING, DeltaKind.COMMAND_OUTPUT, DeltaKind.PLAN, DeltaKind.DIFF):
        live.add(Delta("x", kind, "text"))
    assert live.pending is None


class GatedChat(InMemoryChat):
    """Live edits wait at ``gate`` while it is closed (``arrived`` is set when one does);
    other edits go through at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.arrived = asyncio.Event()

    async def edit(self, post: Post, message_id: str) -> None:
        if str(post.payload["text"]).startswith(WRITING):
            self.arrived.set()
            await asyncio.wait_for(self.gate.wait(), 10)
        await super().edit(post, message_id)


async def record(task_id: str, type: str, data: dict[str, Any]) -> None:
    return None  # the task's chat history is not what this test is about


async def outbox_tried(db: BridgeDb) -> None:
    """Until the outbox has tried to send every entry it holds (polled: no event for it)."""
    async with asyncio.timeout(10):
        while any(entry.attempts == 0 for entry in db.outbox_heads()):  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_an_edit_on_its_way_lands_before_the_outboxs_next_update(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "s.sqlite")
    db.add_session(SESSION)
    chat = GatedChat()
    locks = StatusLocks()
    bus = EventBus()
    outbox = Outbox(
        db,
        chat,
        TaskLog(record, bridge="chat"),
        retry_base_s=0.01,
        retry_max_s=0.01,
        status_locks=locks,
    )
    status = Post("k", "C1", "post", {"text": RENDER.working(), "ref": "status:3"}, "1.1", "t1")
    db.relay("k", [status], cursor=3, status_ref="status:3")
    outbox.start()
    live = LiveStatus(db, chat, RENDER, bus.subscribe_deltas, locks, interval_s=0.01)
    try:
        await outbox.wait_idle(10)
        async with live.following("k", "t1"):
            bus.publish_delta("t1", piece("The answer so far"))
            await asyncio.wait_for(chat.arrived.wait(), 10)  # the live edit is on its way
            # The turn ends meanwhile: the relay tells the live edits, then queues Done.
            ended = TaskEvent("t1", 9, "task.state_changed", NOW, {"to": "completed"})
            live.saw("k", ended, None, turn_ended=True)
            done = Post("k", "C1", "update", {"text": "Done", "ref": "status:3"}, "1.1", "t1")
            db.relay("k", [done], cursor=9, status_ref=None)
            outbox.notify()
            await outbox_tried(db)  # and waits for the edit on its way
            chat.gate.set()
            await outbox.wait_idle(10)
            bus.publish_delta("t1", piece(" and more"))  # too late: the turn ended
    finally:
        await outbox.stop()
        db.close()
    assert chat.messages["m1"].history == ["Working", "Writing: The answer so far", "Done"]
