"""Chat-bound sessions over the link: the chat server's threads in ``[link] channel`` as
Codex sessions, on the chat core shared with Slack.

The link hands each ``chat_message`` push to :meth:`LinkChat.offer`; one worker reads them
in arrival order through a bounded queue. Each message id is handled once (the core's seen
ids, kept in ``link/chat.sqlite`` across reconnects and restarts). A chat thread is one
session on one Codex thread (:class:`~codex_runner.bridges.chat.sessions.ChatSessions`):
a message while a turn runs waits in its queue, ``-stop`` interrupts, ``-status`` answers,
a failed task is replaced. What the session says goes out through the core's outbox and
:class:`~codex_runner.bridges.link.transport.LinkTransport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codex_runner.bridges.chat.bridge_db import Post, Session
from codex_runner.bridges.chat.core import ChatCore
from codex_runner.bridges.chat.rules import session_key
from codex_runner.bridges.chat.sessions import ApprovalOutcome, ChatInput
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.bridges.link.chat_messages import (
    BadChatMessage,
    ChatMessage,
    Route,
    parse_chat_message,
    route,
)
from codex_runner.bridges.link.rendering import LinkRenderer
from codex_runner.bridges.link.transport import QUEUED, LinkTransport, Push
from codex_runner.domain.task import WorkspaceRequest
from codex_runner.service.tasks import TaskService
from codex_runner.store.errors import ApprovalNotFound, TaskNotFound

log = logging.getLogger(__name__)

BRIDGE = "link"  # its events in a task's log: link.message_received, link.delivered, ...
INBOX_SIZE = 1_000
MAX_NAMES = 1_000
RETRY_BASE_S = 0.5  # the outbox's backoff while the link is down
RETRY_MAX_S = 10.0
NO_SESSION = "Nothing runs in this thread yet: say what Codex should do."


class AuthorNames:
    """The names authors gave with their messages (the server's ids otherwise), the most
    recent ``MAX_NAMES`` of them."""

    def __init__(self) -> None:
        self._names: OrderedDict[str, str] = OrderedDict()

    def learn(self, user: str, name: str | None) -> None:
        if name:
            self._names[user] = name
            self._names.move_to_end(user)
            while len(self._names) > MAX_NAMES:
                self._names.popitem(last=False)

    def name(self, user: str) -> str:
        return self._names.get(user, user)


class LinkHost:
    """:class:`~codex_runner.bridges.chat.sessions.ChatHost` for the chat server: every
    session works in the link's ``cwd``; a queued message gets a ``chat_message_queued``."""

    def __init__(self, cwd: Path, names: AuthorNames) -> None:
        self._cwd = cwd
        self._names = names

    def workspace(self, session_key: str) -> WorkspaceRequest:
        return WorkspaceRequest.directory(str(self._cwd))

    def notes(self, session_key: str) -> str:
        return ""

    def mention(self, user: str) -> str:
        return f"@{self._names.name(user)}"

    async def display_name(self, user: str) -> str:
        return self._names.name(user)

    def queued_marks(self, session: Session, message_id: str) -> list[Post]:
        return [session.post(QUEUED, {"messageId": message_id})]


class LinkChat:
    """The sessions of one link's channel; ``start()`` and ``stop()`` it with the link."""

    def __init__(
        self,
        *,
        db_path: Path,
        service: TaskService,
        channel: str,
        cwd: Path,
        push: Push,
        instance_id: str,
        team_memory: Callable[[], str] = lambda: "",
    ) -> None:
        self._service = service
        self._channel = channel
        self._names = AuthorNames()
        self.transport = LinkTransport(push, instance_id)
        self.core = ChatCore(
            db_path=db_path,
            service=service,
            task_log=TaskLog(service.record_event, bridge=BRIDGE, thread_key="chat_thread_id"),
            transport=self.transport,
            render=LinkRenderer(),
            host=LinkHost(cwd, self._names),
            approvers=frozenset(),  # the thread's requester decides its approvals
            retry_base_s=RETRY_BASE_S,
            retry_max_s=RETRY_MAX_S,
            team_memory=team_memory,
        )
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(INBOX_SIZE)
        self._worker: asyncio.Task[None] | None = None
        self._active: str | None = None  # the session key of the latest message

    async def start(self) -> None:
        await self.core.start()
        sessions = self.core.db.sessions()
        self._active = sessions[-1].key if sessions else None
        self._worker = asyncio.create_task(self._run(), name="link-chat-messages")

    async def stop(self, timeout: float) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._worker, timeout)
            self._worker = None
        await self.core.stop(timeout)

    def wake(self) -> None:
        """The link is up again: what waited for it goes now, not when its backoff ends."""
        self.core.outbox.retry_now()

    # --- messages in -----------------------------------------------------------------------

    def offer(self, payload: dict[str, Any]) -> None:
        """A ``chat_message`` push, handled in arrival order (dropped, logged, when full)."""
        try:
            self._inbox.put_nowait(payload)
        except asyncio.QueueFull:
            log.error("chat messages from the link: queue full (%d); one dropped", INBOX_SIZE)

    async def _run(self) -> None:
        while True:
            payload = await self._inbox.get()
            try:
                await self.handle(payload)
            except Exception:
                log.exception("a chat message from the link could not be handled")

    async def handle(self, payload: dict[str, Any]) -> None:
        """One ``chat_message``; a message id seen before runs nothing."""
        try:
            message = parse_chat_message(payload)
        except BadChatMessage as exc:
            log.warning("chat server link: %s; the message is ignored", exc)
            return
        if not self.core.db.first_sighting(f"message:{message.message_id}"):
            return
        self._names.learn(message.author_id, message.author_name)
        key = session_key(self._channel, message.chat_thread_id)
        session = self.core.db.session(key)
        sessions = self.core.sessions
        thread = message.chat_thread_id
        try:
            match route(message, has_session=session is not None):
                case Route.IGNORE:
                    return
                case Route.NO_SESSION:
                    sessions.reply_in(key, self._channel, thread, None, NO_SESSION)
                case Route.START:
                    given = _input(message)
                    await sessions.start(key, self._channel, thread, given, given.turn_text)
                case Route.STOP if session is not None:
                    await sessions.stop(session, message.author_id, message.message_id)
                case Route.STATUS if session is not None:
                    await sessions.status(session, message.author_id, message.message_id)
                case Route.CONTINUE if session is not None:
                    await sessions.deliver(session, _input(message))
            if self.core.db.session(key) is not None:
                self._active = key
        except Exception as exc:
            # Marked as seen already (nothing runs twice), so say what went wrong instead.
            log.exception("chat message %s in %s could not be handled", message.message_id, key)
            task_id = session.task_id if session else None
            sorry = f"Sorry, that did not work: {exc}"
            sessions.reply_in(key, self._channel, thread, task_id, sorry)

    # --- what the link's heartbeat and controls ask -----------------------------------------

    async def bound(self) -> tuple[str | None, str | None]:
        """The most recently active session's chat thread and Codex thread."""
        session = self.core.db.session(self._active) if self._active else None
        if session is None:
            return None, None
        try:
            task = await self._service.get(session.task_id)
        except TaskNotFound:
            return session.thread, None
        return session.thread, task.thread_id

    async def drop_queued(self, message_ids: Sequence[str], by: str | None) -> list[str]:
        """``interrupt_queued_messages``: the named messages leave their queues."""
        return await self.core.sessions.drop_queued(by or "chat", message_ids)

    async def decide(self, approval_id: str, decision: str, by: str | None) -> ApprovalOutcome:
        """A decision from a ``resolve_codex_approval_request`` control; ``unknown`` when
        the approval is not one of this channel's sessions (the control decides it then)."""
        try:
            approval = await self._service.approval(approval_id)
        except ApprovalNotFound:
            return ApprovalOutcome("unknown")
        if self.core.db.session_by_task(approval.task_id) is None:
            return ApprovalOutcome("unknown")
        if by is None:
            return ApprovalOutcome(
                "refused", "a chat thread's approval needs by: the id of the person deciding"
            )
        return await self.core.sessions.decide(by, approval_id, decision)


def _input(message: ChatMessage) -> ChatInput:
    return ChatInput(
        user=message.author_id,
        message_id=message.message_id,
        text=message.text,
        turn_text=f"{message.author}: {message.text}",
    )
