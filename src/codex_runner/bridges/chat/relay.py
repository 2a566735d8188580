"""From a task's events to posts in its chat thread.

:func:`~codex_runner.bridges.chat.relay_plan.plan_posts` is the pure mapping (one event, the
session's status message, in -> posts out); :class:`Relay` follows each session's task
events losslessly (``TaskService.events``) and queues the posts together with the new event
cursor in one transaction, so after a restart nothing is posted twice or skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from codex_runner.bridges.chat.bridge_db import BridgeDb, Session
from codex_runner.bridges.chat.relay_plan import ChatRenderer, EventContext, plan_posts
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.logs.records import log_context
from codex_runner.service.settling import SettleWatch

log = logging.getLogger(__name__)


class LiveEdits(Protocol):
    """Edits made from a task's live deltas while the relay follows it (Slack's status
    message growing with the answer). Told of each event before its posts are queued, so
    that a live edit never lands after the durable one that ends it."""

    def following(self, key: str, task_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Make live edits for session ``key`` from ``task_id``'s deltas meanwhile."""

    def saw(self, key: str, event: TaskEvent, status_ref: str | None, turn_ended: bool) -> None:
        """The relay is about to queue ``event``'s posts."""


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
        render: ChatRenderer,
        *,
        own_events: str,
        live: LiveEdits | None = None,
    ) -> None:
        # own_events: the prefix of the bridge's own event types (``slack.``), not relayed.
        self._db = db
        self._render = render
        self._own_events = own_events
        self._name = own_events.rstrip(".")
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
            self._run(session_key), name=f"{self._name}-relay-{session_key}"
        )

    async def _relay_event(
        self, key: str, event: TaskEvent, session: Session, status_ref: str | None
    ) -> str | None:
        """Post what ``event`` means in the thread; the status message's new reference."""
        ctx = await self._context(event, session)
        plan = plan_posts(event, session, status_ref, ctx, self._render)
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
        with log_context(session_key=key):  # what the follower logs is the session's
            await self._run_session(key)

    async def _run_session(self, key: str) -> None:
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
                    if not event.type.startswith(self._own_events):
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
