"""A turn's status message, edited with Codex's answer as it streams.

Deltas are live and never stored, so these edits do not go through the outbox: a restart
loses nothing that matters, since the answer is posted whole when its item completes, as
always. Chats limit how often one message may be edited (Slack: about one ``chat.update`` a
second), so an edit goes out at most once per interval (counted from the end of the previous
one) with all the text so far; the first edit of an answer waits one interval too, so an
answer written faster costs no edit at all. How the text reads is the bridge's
:meth:`~codex_runner.bridges.chat.relay_plan.ChatRenderer.writing`.

The status message's durable edits (running a command, waiting, done) still go through the
outbox, and must win: the relay tells :meth:`LiveStatus.saw` about every event before it
queues that event's posts, so an answer whose item completed or whose turn ended is never
sent again; and an edit already on its way finishes before the outbox sends the thread's
next update (both hold the thread's lock in :class:`StatusLocks`), so it cannot land after
"Done".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from codex_runner.bridges.chat.bridge_db import UPDATE, BridgeDb, Post
from codex_runner.bridges.chat.errors import ChatRejected, ChatUnavailable
from codex_runner.bridges.chat.relay_plan import ChatRenderer
from codex_runner.bridges.chat.session_locks import StatusLocks
from codex_runner.bridges.chat.transport import ChatTransport
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import EventKind, ItemType
from codex_runner.service.delta_channel import DeltaSubscription

log = logging.getLogger(__name__)

# At most one edit of a message a second: Slack's rate limit for chat.update.
EDIT_INTERVAL_S = 1.0
# Answers completed in one turn that are remembered, so their late deltas are ignored.
MAX_FINISHED = 256


@dataclass
class LiveAnswer:
    """The answer being written in one session's current turn, and what its status message
    shows of it. Pure: the relay's events and the deltas go in, the text to show comes out."""

    status_ref: str | None = None  # the turn's status message; None: nothing to edit
    item_id: str | None = None
    text: str = ""
    shown: str = ""
    finished: set[str] = field(default_factory=set)

    def add(self, delta: Delta) -> None:
        """A live delta of the task; only the agent's answer text shows."""
        if delta.kind is not DeltaKind.AGENT_MESSAGE or delta.item_id in self.finished:
            return
        if delta.item_id != self.item_id:
            self.item_id, self.text, self.shown = delta.item_id, "", ""
        self.text += delta.text

    def saw(self, event: TaskEvent, status_ref: str | None, turn_ended: bool) -> None:
        """The relay relayed ``event``; ``status_ref`` is the status message after it."""
        if turn_ended:
            # Whatever was being written is done: its late deltas must not reach the next
            # turn's status message.
            if self.item_id is not None:
                self._finish(self.item_id)
            self.status_ref = None
            return
        if status_ref != self.status_ref:
            self.status_ref, self.shown = status_ref, ""
        if event.type != f"codex.{EventKind.ITEM_COMPLETED.value}":
            return
        item = codex.item if (codex := event.codex_event()) is not None else None
        if item is not None and item.type is ItemType.AGENT_MESSAGE:
            self._finish(item.id)  # it is posted whole now: its edits end

    @property
    def pending(self) -> str | None:
        """The answer so far when it is news to the status message, else None."""
        if self.status_ref is None or self.item_id is None or not self.text:
            return None
        if self.text == self.shown:
            return None
        return self.text

    def _finish(self, item_id: str) -> None:
        if len(self.finished) >= MAX_FINISHED:
            self.finished.clear()
        self.finished.add(item_id)
        if item_id == self.item_id:
            self.item_id, self.text, self.shown = None, "", ""


class LiveStatus:
    """Edits each followed session's status message with its answer as it streams."""

    def __init__(
        self,
        db: BridgeDb,
        transport: ChatTransport,
        render: ChatRenderer,
        subscribe: Callable[[str], DeltaSubscription],
        locks: StatusLocks,
        *,
        interval_s: float = EDIT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._db = db
        self._transport = transport
        self._render = render
        self._subscribe = subscribe
        self._locks = locks
        self._interval_s = interval_s
        self._clock = clock
        self._answers: dict[str, LiveAnswer] = {}

    @contextlib.asynccontextmanager
    async def following(self, key: str, task_id: str) -> AsyncIterator[None]:
        """Edit session ``key``'s status message from ``task_id``'s deltas meanwhile."""
        answer = self._answers[key] = LiveAnswer()
        session = self._db.session(key)
        if session is not None:
            answer.status_ref = session.status_ref
        deltas = self._subscribe(task_id)
        editor = asyncio.create_task(self._edit(key, answer, deltas), name=f"live-status-{key}")
        try:
            yield
        finally:
            editor.cancel()
            deltas.close()
            with contextlib.suppress(asyncio.CancelledError):
                await editor
            if self._answers.get(key) is answer:
                del self._answers[key]

    def saw(self, key: str, event: TaskEvent, status_ref: str | None, turn_ended: bool) -> None:
        """The relay is about to queue ``event``'s posts (call it first, synchronously)."""
        answer = self._answers.get(key)
        if answer is not None:
            answer.saw(event, status_ref, turn_ended)

    async def _edit(self, key: str, answer: LiveAnswer, deltas: DeltaSubscription) -> None:
        next_at = self._clock()
        writing: str | None = None  # the answer whose first edit is scheduled
        while True:
            # Each interval at the latest: a status message posted meanwhile gets the text.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await deltas.wait_ready()
            if deltas.dropped or deltas.closed:
                log.info("live answer edits of session %s stop: too far behind", key)
                return
            for delta in deltas.take():
                answer.add(delta)
            if answer.pending is None:
                continue
            if answer.item_id != writing:
                # An answer written within one interval is posted before any edit shows it:
                # short answers cost the chat no edit at all.
                writing = answer.item_id
                next_at = max(next_at, self._clock() + self._interval_s)
            await self._until(next_at)  # the chat's rate limit; more text comes meanwhile
            for delta in deltas.take():
                answer.add(delta)
            try:
                sent = await self._send(key, answer)
            except Exception:
                # The answer is posted whole when it completes: the edits may stop, the
                # relay must not.
                log.exception("live edits of session %s's status stop", key)
                return
            if sent:
                next_at = self._clock() + self._interval_s

    async def _until(self, deadline: float) -> None:
        """Sleep until the clock reaches ``deadline`` (a timer may fire a hair early)."""
        wait = deadline - self._clock()
        while wait > 0:
            await asyncio.sleep(wait)
            wait = deadline - self._clock()

    async def _send(self, key: str, answer: LiveAnswer) -> bool:
        """Edit the status message with the text so far; whether the chat was asked."""
        async with self._locks.hold(key):
            text = answer.pending  # again: the relay may have finished the answer meanwhile
            session = self._db.session(key)
            if text is None or session is None or answer.status_ref is None:
                return False
            ts = self._db.message_id(key, answer.status_ref)
            if ts is None:
                return False  # not posted yet: the next round tries again
            shown = answer.text
            try:
                edit = Post(
                    key,
                    session.channel,
                    UPDATE,
                    {"text": self._render.writing(text), "ref": answer.status_ref},
                    thread=session.thread,
                    task_id=session.task_id,
                )
                await self._transport.edit(edit, ts)
            except (ChatUnavailable, ChatRejected) as exc:
                # The next edit carries all the text anyway; the durable ones are retried.
                log.warning("live edit of session %s's status failed: %s", key, exc)
                return True
            answer.shown = shown
            return True
