"""Chat threads as Codex sessions: one task (so one Codex thread) per chat thread.

A message to a session runs as the task's next turn, or waits in the session's durable queue
while a turn runs (each queued message is one turn, in arrival order, dispatched when the
turn ends); ``-stop`` interrupts and drops the queue; a task that failed or was cancelled is
replaced by a fresh one for the same thread. Approvals are decided from the chat by the
approvers (else the thread's requester). The decisions are :mod:`~.rules`; what is the
chat's own (its workspace, its prompt notes, how a user is named) the bridge tells through
:class:`ChatHost`. Everything said goes through the outbox; everything done is recorded in
the task's event log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from codex_runner.bridges.chat import rules
from codex_runner.bridges.chat import task_log as what
from codex_runner.bridges.chat.bridge_db import POST, BridgeDb, Post, Session
from codex_runner.bridges.chat.relay_plan import EventContext
from codex_runner.bridges.chat.rules import Delivery
from codex_runner.bridges.chat.session_locks import SessionLocks
from codex_runner.bridges.chat.task_log import TaskLog
from codex_runner.domain.approval import ApprovalError
from codex_runner.domain.durable_event import EventType, TaskEvent
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.domain.transitions import FINAL_STATES, InvalidTransition
from codex_runner.logs.records import log_context
from codex_runner.service.errors import IdempotencyKeyReused
from codex_runner.service.tasks import TaskService
from codex_runner.store.errors import ApprovalNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatInput:
    """A person's message to a session, as the chat core needs it."""

    user: str
    message_id: str
    text: str  # as written: what the task's log records
    turn_text: str  # what Codex is given (the bridge's wording, e.g. "Ann: ...")
    images: tuple[str, ...] = ()  # saved image files handed to Codex


@dataclass(frozen=True)
class ApprovalOutcome:
    """What became of a decision from the chat: ``decided``; ``refused`` (not the person's
    to decide); ``rejected`` (the service said no: decided already, not offered); or
    ``unknown`` (no approval of this bridge's sessions). ``message`` says why, for people."""

    outcome: str
    message: str = ""


class ChatHost(Protocol):
    """What the chat core asks of the bridge it serves."""

    def workspace(self, session_key: str) -> WorkspaceRequest:
        """Where the session's tasks run."""

    def notes(self, session_key: str) -> str:
        """What every fresh task's prompt ends with (the session's workspace, its helpers)."""

    def mention(self, user: str) -> str:
        """``user`` as the chat writes a mention of them."""

    async def display_name(self, user: str) -> str:
        """``user``'s name for people to read (the id itself when unknown)."""

    def queued_marks(self, session: Session, message_id: str) -> list[Post]:
        """What shows in the chat that ``message_id`` waits in the queue (may be nothing)."""


class ChatSessions:
    """The sessions of one bridge; :meth:`dispatch_next` after each turn ends."""

    def __init__(
        self,
        *,
        db: BridgeDb,
        service: TaskService,
        task_log: TaskLog,
        host: ChatHost,
        approvers: frozenset[str],
        notify_outbox: Callable[[], None],
        watch: Callable[[str], None],
        follow_again: Callable[[str], Awaitable[None]],
        team_memory: Callable[[], str] = lambda: "",
    ) -> None:
        """``team_memory`` is the team's AGENT.md: a new session's first turn starts with
        it (its thread keeps it in context for the turns after)."""
        self._db = db
        self._team_memory = team_memory
        self._service = service
        self._log = task_log
        self._host = host
        self._approvers = approvers
        self._notify = notify_outbox
        self._watch = watch
        self._follow_again = follow_again
        self._locks = SessionLocks()
        # Who decided an approval, in the approval's record: "<bridge>:<user>".
        self._by_prefix = task_log.bridge + ":"

    # --- messages --------------------------------------------------------------------------

    async def start(
        self, key: str, channel: str, thread: str, message: ChatInput, prompt: str
    ) -> None:
        """A new session for a chat thread; ``prompt`` is its first turn (notes included)."""
        prompt = with_team_memory(self._team_memory(), prompt)
        try:
            task = await self._submit(prompt, key, message.images, f"{self._log.bridge}:{key}")
        except IdempotencyKeyReused as reused:
            # The thread already has its task but lost its session row (the bridge stopped
            # between the two writes): adopt that task and take this message as its next.
            adopted = Session(key, channel, thread, reused.task_id, message.user)
            self._db.add_session(adopted)
            self._watch(key)
            await self.deliver(adopted, message)
            return
        self._db.add_session(Session(key, channel, thread, task.id, message.user))
        await self._log.record(
            task.id,
            what.SESSION_STARTED,
            {"channel": channel, self._log.thread_key: thread, "user": message.user},
        )
        await self._record_message(task.id, message)
        self._watch(key)

    async def deliver(self, session: Session, message: ChatInput) -> None:
        """The session's next message: a turn now, a fresh task, or a place in the queue."""
        with log_context(session_key=session.key):
            await self._deliver(session, message)

    async def _deliver(self, session: Session, message: ChatInput) -> None:
        async with self._locks.hold(session.key):
            task = await self._service.get(session.task_id)
            depth = self._db.queue_depth(session.key)
            plan = rules.plan_delivery(task.state, depth)
            if plan is Delivery.NOW:
                try:
                    await self._service.message(task.id, message.turn_text, images=message.images)
                except InvalidTransition:
                    plan = Delivery.QUEUE  # a turn started meanwhile
                else:
                    await self._follow_again(session.key)
                    await self._record_message(task.id, message)
            elif plan is Delivery.NEW_TASK:
                fresh = await self._restart(session, task, message.turn_text, message.images)
                await self._record_message(fresh.id, message)
            if plan is Delivery.QUEUE:
                depth = self._db.enqueue_message(
                    session.key, message.user, message.message_id, message.turn_text, message.images
                )
                self.enqueue(self._host.queued_marks(session, message.message_id))
                await self._log.record(
                    task.id,
                    what.MESSAGE_QUEUED,
                    {
                        self._log.message_key: message.message_id,
                        "user": message.user,
                        "text": message.turn_text,
                        "queue_depth": depth,
                    },
                )

    async def dispatch_next(self, key: str) -> None:
        """After a turn: run the oldest queued message of the session, if any."""
        async with self._locks.hold(key):
            session = self._db.session(key)
            queued = self._db.next_queued(key)
            if session is None or queued is None:
                return
            task = await self._service.get(session.task_id)
            if not rules.can_take_next(task.state):
                return
            try:
                if task.state in FINAL_STATES:
                    await self._restart(session, task, queued.text, queued.images)
                else:
                    await self._service.message(task.id, queued.text, images=queued.images)
                    await self._follow_again(key)
            except InvalidTransition:
                return  # someone else started a turn; the next turn end tries again
            self._db.remove_queued(queued.id)
            current = self._db.session(key)
            await self._log.record(
                current.task_id if current else task.id,
                what.MESSAGE_DISPATCHED,
                {
                    self._log.message_key: queued.message_id,
                    "user": queued.user,
                    "queue_depth": self._db.queue_depth(key),
                },
            )

    async def stop(self, session: Session, user: str, message_id: str) -> None:
        """``-stop``: interrupt the running turn and drop the queued messages."""
        async with self._locks.hold(session.key):
            dropped = self._db.clear_queue(session.key)
        try:
            await self._service.interrupt(session.task_id)
            reply = "Stopping the current turn."
        except InvalidTransition:
            reply = "Nothing is running right now."
        if dropped:
            reply += f" Dropped {dropped} queued message{'s' if dropped != 1 else ''}."
        await self._log.record(
            session.task_id,
            what.COMMAND,
            {
                "command": "stop",
                "user": user,
                self._log.message_key: message_id,
                "dropped": dropped,
            },
        )
        self.reply(session, reply)

    async def drop_queued(self, user: str, message_ids: Sequence[str]) -> list[str]:
        """Take the named messages out of their sessions' queues (the rest stay, in order);
        the ids of those that were still queued."""
        dropped: list[str] = []
        for key in dict.fromkeys(m.session_key for m in self._db.queued_with(message_ids)):
            async with self._locks.hold(key):  # not while dispatch_next takes one
                gone = [m for m in self._db.queued_with(message_ids) if m.session_key == key]
                for message in gone:
                    self._db.remove_queued(message.id)
            session = self._db.session(key)
            if session is None or not gone:
                continue
            dropped.extend(m.message_id for m in gone)
            await self._log.record(
                session.task_id,
                what.COMMAND,
                {
                    "command": "drop_queued",
                    "user": user,
                    self._log.message_key: [m.message_id for m in gone],
                    "dropped": len(gone),
                },
            )
            plural = "s" if len(gone) != 1 else ""
            self.reply(session, f"Dropped {len(gone)} queued message{plural}.")
        return dropped

    async def status(self, session: Session, user: str, message_id: str) -> None:
        """``-status``: the task's state, the queue's depth, the tokens used."""
        task = await self._service.get(session.task_id)
        line = rules.status_line(
            task.state, self._db.queue_depth(session.key), task.usage.total_tokens
        )
        await self._log.record(
            session.task_id,
            what.COMMAND,
            {"command": "status", "user": user, self._log.message_key: message_id},
        )
        self.reply(session, line)

    # --- approvals -------------------------------------------------------------------------

    def deciders(self, session: Session) -> list[str]:
        return sorted(self._approvers) or [session.requester]

    async def decide(self, user: str, approval_id: str, decision: str) -> ApprovalOutcome:
        """A person's decision on an approval, from the chat (a button, a control)."""
        try:
            approval = await self._service.approval(approval_id)
        except ApprovalNotFound:
            approval = None
        session = self._db.session_by_task(approval.task_id) if approval else None
        if approval is None or session is None:
            log.warning("approval action for unknown approval %s ignored", approval_id)
            return ApprovalOutcome("unknown", f"no chat session has approval {approval_id}")
        data = {"approval_id": approval_id, "user": user, "decision": decision}
        if not rules.may_decide(user, approvers=self._approvers, requester=session.requester):
            who = ", ".join(self._host.mention(u) for u in self.deciders(session))
            await self._log.record(
                session.task_id, what.APPROVAL_ACTION, {**data, "outcome": "refused"}
            )
            self.reply(
                session, f"Sorry {self._host.mention(user)}, only {who} can decide this approval."
            )
            return ApprovalOutcome("refused", f"only {who} can decide this approval")
        try:
            await self._service.decide_approval(approval_id, decision, by=self._by_prefix + user)
        except ApprovalError as exc:
            await self._log.record(
                session.task_id,
                what.APPROVAL_ACTION,
                {**data, "outcome": "rejected", "error": str(exc)},
            )
            self.reply(session, f"{self._host.mention(user)}: {exc}")
            return ApprovalOutcome("rejected", str(exc))
        await self._log.record(
            session.task_id, what.APPROVAL_ACTION, {**data, "outcome": "decided"}
        )
        return ApprovalOutcome("decided")

    async def event_context(self, event: TaskEvent, session: Session) -> EventContext:
        """What the relay needs to show ``event`` beyond the event itself."""
        if event.type == EventType.APPROVAL_REQUESTED:
            author = self._host.mention(session.requester) if session.requester else None
            return EventContext(deciders=self.deciders(session), mention=author)
        if event.type in (EventType.APPROVAL_DECIDED, EventType.APPROVAL_EXPIRED):
            data: dict[str, Any] = {}
            with contextlib.suppress(ApprovalNotFound):
                approval = await self._service.approval(str(event.data.get("approval_id")))
                data = {
                    "kind": approval.kind.value,
                    "command": approval.command,
                    "cwd": approval.cwd,
                    "changes": [{"path": c.path, "kind": c.kind} for c in approval.changes],
                }
            by = str(event.data.get("by") or "")
            if by.startswith(self._by_prefix):
                by = await self._host.display_name(by.removeprefix(self._by_prefix))
            return EventContext(approval_data=data, decided_by=by or None)
        if event.type == EventType.TASK_STATE_CHANGED and event.data.get("to") == "completed":
            task = await self._service.get(session.task_id)
            return EventContext(total_tokens=task.usage.total_tokens)
        return EventContext()

    # --- posting ---------------------------------------------------------------------------

    def reply(self, session: Session, text: str) -> None:
        """Say ``text`` in the session's thread."""
        self.enqueue([session.post(POST, {"text": text})])

    def reply_in(self, key: str, channel: str, thread: str, task_id: str | None, text: str) -> None:
        """Say ``text`` in a thread that may have no session (a refusal, an error)."""
        post = Post(key, channel, POST, {"text": text}, thread=thread, task_id=task_id)
        self.enqueue([post])

    def enqueue(self, posts: Sequence[Post]) -> None:
        """Queue ``posts`` in the outbox and wake it."""
        if posts:
            self._db.enqueue_posts(posts)
            self._notify()

    # --- tasks -----------------------------------------------------------------------------

    async def _submit(
        self, prompt: str, key: str, images: Sequence[str], idempotency_key: str
    ) -> Task:
        return await self._service.submit(
            prompt, self._host.workspace(key), idempotency_key=idempotency_key, images=images
        )

    async def _restart(self, session: Session, old: Task, text: str, images: Sequence[str]) -> Task:
        """The session's task is final: continue the thread on a fresh task."""
        note = f"(The previous Codex session for this thread ended: {old.state.value}.)\n"
        prompt = note + text + self._host.notes(session.key)
        task = await self._submit(
            prompt, session.key, images, f"{self._log.bridge}:{session.key}:{old.id}"
        )
        self._db.replace_task(session.key, task.id)
        await self._log.record(
            task.id,
            what.SESSION_STARTED,
            {
                "channel": session.channel,
                self._log.thread_key: session.thread,
                "replaces_task": old.id,
            },
        )
        self._watch(session.key)
        return task

    async def _record_message(self, task_id: str, message: ChatInput) -> None:
        await self._log.record(
            task_id,
            what.MESSAGE_RECEIVED,
            {
                self._log.message_key: message.message_id,
                "user": message.user,
                "text": message.text,
                "images": list(message.images),
            },
        )


def with_team_memory(memory: str, prompt: str) -> str:
    """A session's first prompt, after the team's AGENT.md (once per thread: its later turns
    have it in their context already)."""
    if not memory:
        return prompt
    return f'<team_memory source="AGENT.md">\n{memory}\n</team_memory>\n\n{prompt}'
