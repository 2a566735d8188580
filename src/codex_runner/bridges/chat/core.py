"""One bridge's chat core, assembled: its database, outbox, sessions, relay and live status.

A bridge builds its own parts (transport, renderer, host, task log) and hands them in; the
core wires the rest the same way for every chat, starts it in order (the outbox first, so
what the relay queues goes out; then a follower per session; then what waited in the queues)
and stops it in reverse, each wait bounded.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from codex_runner.bridges.chat.bridge_db import SEEN_RETENTION_S, BridgeDb, Session
from codex_runner.bridges.chat.live_status import EDIT_INTERVAL_S, LiveStatus
from codex_runner.bridges.chat.outbox import Outbox
from codex_runner.bridges.chat.relay import Relay
from codex_runner.bridges.chat.relay_plan import ChatRenderer
from codex_runner.bridges.chat.session_locks import StatusLocks
from codex_runner.bridges.chat.sessions import ChatHost, ChatSessions
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.bridges.chat.transport import ChatTransport
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.service.tasks import TaskService


class ChatCore:
    """The parts every chat bridge runs; ``start()`` and ``stop()`` them once."""

    def __init__(
        self,
        *,
        db_path: Path,
        service: TaskService,
        task_log: TaskLog,
        transport: ChatTransport,
        render: ChatRenderer,
        host: ChatHost,
        approvers: frozenset[str],
        retry_base_s: float,
        retry_max_s: float,
        live_interval_s: float | None = EDIT_INTERVAL_S,
        team_memory: Callable[[], str] = lambda: "",
    ) -> None:
        """``live_interval_s``: how often the status message may show the growing answer;
        None for no live edits. ``team_memory``: the team's AGENT.md, read at each new
        session (ChatSessions)."""
        self._service = service
        self.db = BridgeDb(db_path)
        self.db.forget_seen_before(time.time() - SEEN_RETENTION_S)
        status_locks = StatusLocks()
        self.outbox = Outbox(
            self.db,
            transport,
            task_log,
            retry_base_s=retry_base_s,
            retry_max_s=retry_max_s,
            status_locks=status_locks,
        )
        self.sessions = ChatSessions(
            db=self.db,
            service=service,
            task_log=task_log,
            host=host,
            approvers=approvers,
            notify_outbox=self.outbox.notify,
            watch=lambda key: self.relay.watch(key),
            follow_again=lambda key: self.relay.ensure(key),
            team_memory=team_memory,
        )
        live = (
            None
            if live_interval_s is None
            else LiveStatus(
                self.db,
                transport,
                render,
                service.live_deltas,
                status_locks,
                interval_s=live_interval_s,
            )
        )
        self.relay = Relay(
            self.db,
            self._follow,
            self.sessions.event_context,
            self.outbox.notify,
            self.sessions.dispatch_next,
            service.settle_watch,
            render,
            own_events=task_log.prefix,
            live=live,
        )

    async def start(self, *, on_session: Callable[[Session], None] | None = None) -> None:
        """Deliver the outbox, follow each session's task again (``on_session`` first, e.g.
        to issue its credentials), then run what waited in the sessions' queues."""
        self.outbox.start()
        for session in self.db.sessions():
            if on_session is not None:
                on_session(session)
            self.relay.watch(session.key)
        for session in self.db.sessions():
            await self.sessions.dispatch_next(session.key)

    async def follow_task(self, task_id: str) -> None:
        """Follow the session of ``task_id`` again: a follow-up that did not come through
        the chat (a background job's report) re-queued its settled task."""
        session = self.db.session_by_task(task_id)
        if session is not None:
            await self.relay.ensure(session.key)

    async def stop(self, timeout: float) -> None:
        """Stop the followers, then the outbox (what it still holds stays for next time)."""
        await self.relay.stop(timeout)
        await self.outbox.stop(timeout)
        self.db.close()

    def _follow(self, task_id: str, after_seq: int) -> AsyncIterator[TaskEvent]:
        return self._service.events(task_id, after_seq)
