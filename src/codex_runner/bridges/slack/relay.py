"""From a task's events to posts in its thread.

:func:`plan_posts` is the pure mapping (one event, the session's status message, in ->
posts out); :class:`Relay` follows each session's task events losslessly
(``TaskService.events``) and queues the posts together with the new event cursor in one
transaction, so after a restart nothing is posted twice or skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codex_runner.bridges.chat.bridge_db import BridgeDb, Post, Session
from codex_runner.bridges.slack import blocks
from codex_runner.bridges.slack.live_status import LiveStatus
from codex_runner.bridges.slack.mrkdwn import split_message, to_mrkdwn
from codex_runner.domain.durable_event import EventType, TaskEvent
from codex_runner.domain.events import EventKind, ItemType
from codex_runner.domain.task import IDLE_STATES
from codex_runner.service.settling import SettleWatch

log = logging.getLogger(__name__)

RESTARTED_TEXT = (
    ":warning: The runner restarted while this turn was running. Reply to continue where it "
    "left off."
)


@dataclass(frozen=True)
class EventContext:
    """What :func:`plan_posts` needs beyond the event, looked up by the caller."""

    deciders: Sequence[str] = ()
    approval_data: dict[str, Any] = field(default_factory=dict)
    decided_by: str | None = None
    total_tokens: int = 0


@dataclass(frozen=True)
class Plan:
    posts: list[Post]
    status_ref: str | None
    turn_ended: bool = False


def plan_posts(
    event: TaskEvent, session: Session, status_ref: str | None, ctx: EventContext
) -> Plan:
    """The posts that show ``event`` in the session's thread."""
    posts: list[Post] = []

    def post(
        text: str, *, ref: str | None = None, block: list[dict[str, Any]] | None = None
    ) -> None:
        payload: dict[str, Any] = {"text": text}
        if ref:
            payload["ref"] = ref
        if block:
            payload["blocks"] = block
        posts.append(_post(session, "post", payload))

    def update(ref: str | None, text: str, block: list[dict[str, Any]] | None = None) -> None:
        if ref is None:
            return
        payload: dict[str, Any] = {"ref": ref, "text": text}
        if block:
            payload["blocks"] = block
        posts.append(_post(session, "update", payload))

    data = event.data
    if event.type.startswith("codex."):
        codex = event.codex_event()
        if codex is None:
            return Plan(posts, status_ref)
        if codex.kind is EventKind.TURN_STARTED:
            status_ref = f"status:{event.seq}"
            post(blocks.WORKING, ref=status_ref)
        elif codex.kind is EventKind.ITEM_STARTED and codex.item is not None:
            if codex.item.type is ItemType.COMMAND_EXECUTION and codex.item.command:
                update(status_ref, blocks.running_text(codex.item.command))
        elif (
            codex.kind is EventKind.ITEM_COMPLETED
            and codex.item is not None
            and codex.item.type is ItemType.AGENT_MESSAGE
            and (codex.item.text or "").strip()
        ):
            for piece in split_message(to_mrkdwn(codex.item.text or "")):
                post(piece)
        return Plan(posts, status_ref)

    if event.type == EventType.APPROVAL_REQUESTED:
        approval_id = str(data["approval_id"])
        post(
            "Codex asks for an approval",
            ref=f"approval:{approval_id}",
            block=blocks.approval_blocks(approval_id, data, ctx.deciders),
        )
        update(status_ref, blocks.WAITING)
    elif event.type == EventType.APPROVAL_DECIDED:
        outcome = blocks.decided_text(str(data.get("decision")), ctx.decided_by or "someone")
        update(
            f"approval:{data['approval_id']}",
            outcome,
            blocks.settled_blocks(ctx.approval_data, outcome),
        )
    elif event.type == EventType.APPROVAL_EXPIRED:
        update(
            f"approval:{data['approval_id']}",
            blocks.EXPIRED_TEXT,
            blocks.settled_blocks(ctx.approval_data, blocks.EXPIRED_TEXT),
        )
    elif event.type == EventType.TASK_STATE_CHANGED:
        to, source = data.get("to"), data.get("from")
        if to == "running" and source == "awaiting_approval":
            update(status_ref, blocks.WORKING)
        elif to in IDLE_STATES:  # the turn ended
            if to == "completed":
                update(status_ref, blocks.done_text(ctx.total_tokens))
                if status_ref is None:
                    post(blocks.done_text(ctx.total_tokens))
            elif to == "interrupted":
                update(status_ref, blocks.STOPPED)
            elif to == "cancelled":
                update(status_ref, blocks.CANCELLED)
            else:
                text = blocks.failed_text(data.get("reason"))
                update(status_ref, text)
                post(text)
            return Plan(posts, None, turn_ended=True)
    elif event.type == EventType.TASK_RECONCILED:
        update(status_ref, blocks.STOPPED)
        post(RESTARTED_TEXT)
        return Plan(posts, None, turn_ended=True)
    return Plan(posts, status_ref)


def _post(session: Session, op: str, payload: dict[str, Any]) -> Post:
    return Post(
        lane=session.key,
        channel=session.channel,
        thread=session.thread,
        op=op,
        payload=payload,
        task_id=session.task_id,
    )


ContextLookup = Callable[[TaskEvent, Session], Awaitable[EventContext]]
FollowEvents = Callable[[str, int], Any]  # (task_id, after_seq) -> AsyncIterator[TaskEvent]
WatchSettling = Callable[[str], SettleWatch]  # TaskService.settle_watch


class Relay:
    """One follower per session with something to relay.

    A follower stops when its session moves to another task, and when its task settles (a
    terminal state with nothing after it): sessions are never deleted, and a follower for
    each one ever seen would hold a task and a bus subscription for the daemon's lifetime.
    A follow-up message that re-queues a settled task calls :meth:`ensure` to follow again,
    from the session's cursor, so nothing is skipped.
    """

    def __init__(
        self,
        db: BridgeDb,
        follow: FollowEvents,
        context: ContextLookup,
        on_posts: Callable[[], None],
        on_turn_end: Callable[[str], Awaitable[None]],
        settle_watch: WatchSettling,
        live: LiveStatus | None = None,
    ) -> None:
        self._db = db
        self._live = live
        self._follow = follow
        self._context = context
        self._on_posts = on_posts
        self._on_turn_end = on_turn_end
        self._settle_watch = settle_watch
        self._followers: dict[str, asyncio.Task[None]] = {}
        # Held while a follower decides to stop and while ensure() looks for one, so that a
        # follow-up landing meanwhile is either seen by the follower or gets a new one.
        self._deciding = asyncio.Lock()

    def watch(self, session_key: str) -> None:
        """(Re)start following the session's current task."""
        old = self._followers.pop(session_key, None)
        if old is not None:
            old.cancel()
        self._start(session_key)

    async def ensure(self, session_key: str) -> None:
        """Follow the session unless a follower is at it (after a follow-up message)."""
        async with self._deciding:
            current = self._followers.get(session_key)
            if current is None or current.done():
                self._start(session_key)

    async def wait_idle(self, timeout: float) -> None:
        """Until no session is followed (each one's task settled); TimeoutError after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while live := [task for task in self._followers.values() if not task.done()]:
                await asyncio.wait(live)

    def _start(self, session_key: str) -> None:
        self._followers[session_key] = asyncio.create_task(
            self._run(session_key), name=f"slack-relay-{session_key}"
        )

    async def _relay_event(
        self, key: str, event: TaskEvent, session: Session, status_ref: str | None
    ) -> str | None:
        """Post what ``event`` means in the thread; the status message's new reference."""
        ctx = await self._context(event, session)
        plan = plan_posts(event, session, status_ref, ctx)
        if self._live is not None:  # first: no live edit may follow these posts
            self._live.saw(key, event, plan.status_ref, plan.turn_ended)
        self._db.relay(key, plan.posts, cursor=event.seq, status_ref=plan.status_ref)
        if plan.posts:
            self._on_posts()
        if plan.turn_ended:
            await self._on_turn_end(key)
        return plan.status_ref

    async def _done_at(self, key: str, watch: SettleWatch, seq: int) -> bool:
        """The task settled at ``seq``: this follower stops (and leaves the table)."""
        async with self._deciding:
            if not await watch.settled_at(seq):
                return False
            if self._followers.get(key) is asyncio.current_task():
                del self._followers[key]
            return True

    async def stop(self, timeout: float = 5.0) -> None:
        followers = list(self._followers.values())
        self._followers.clear()
        for task in followers:
            task.cancel()
        if followers:
            await asyncio.wait(followers, timeout=timeout)

    async def _run(self, key: str) -> None:
        session = self._db.session(key)
        if session is None:
            return
        if self._live is None:
            await self._follow_task(key, session)
            return
        async with self._live.following(key, session.task_id):
            await self._follow_task(key, session)

    async def _follow_task(self, key: str, session: Session) -> None:
        task_id = session.task_id
        status_ref = session.status_ref
        if await self._done_at(key, self._settle_watch(task_id), session.event_cursor):
            return  # settled, and everything up to the cursor was relayed
        while True:
            watch = self._settle_watch(task_id)  # afresh after a failure: it may have settled
            try:
                async for event in self._follow(task_id, session.event_cursor):
                    current = self._db.session(key)
                    if current is None or current.task_id != task_id:
                        return
                    session = current
                    if not event.type.startswith("slack."):
                        status_ref = await self._relay_event(key, event, session, status_ref)
                    if watch.may_have_settled(event) and await self._done_at(key, watch, event.seq):
                        return
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # Keep following: a failure here must not silence the thread. The cursor
                # was not advanced past the event that failed, so it is retried.
                log.exception("relay of session %s failed; following again", key)
                await asyncio.sleep(1.0)  # back off before reading the events again
                refreshed = self._db.session(key)
                if refreshed is None or refreshed.task_id != task_id:
                    return
                session = refreshed
