"""What a task's events look like in its chat thread: a pure mapping, one event in, posts out.

Each turn has one status message, posted when the turn starts and edited in place (running a
command, waiting for an approval, done, stopped, failed); each answer of Codex is posted
whole; an approval request is posted with what it asks, and edited once decided or expired.
How each of these reads (the chat's formatting, buttons, size limits) is the bridge's
:class:`ChatRenderer`; what gets posted when is decided here, once for every chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from codex_runner.bridges.chat.bridge_db import POST, UPDATE, Post, Session
from codex_runner.domain.durable_event import EventType, TaskEvent
from codex_runner.domain.events import EventKind, ItemType
from codex_runner.domain.jobs import JOB_FINISHED
from codex_runner.domain.task import IDLE_STATES


class ChatRenderer(Protocol):
    """The texts (and payloads) a bridge shows a task's progress with."""

    def working(self) -> str:
        """The status message while Codex works."""

    def running(self, command: str) -> str:
        """The status message while ``command`` runs."""

    def waiting(self) -> str:
        """The status message while an approval is awaited."""

    def writing(self, answer: str) -> str:
        """The status message while Codex writes ``answer`` (the text so far, in Markdown)."""

    def done(self, total_tokens: int) -> str: ...

    def stopped(self) -> str: ...

    def cancelled(self) -> str: ...

    def failed(self, reason: str | None) -> str: ...

    def restarted(self) -> str:
        """Said when the runner restarted in the middle of the thread's turn."""

    def answer(self, markdown: str) -> list[str]:
        """Codex's answer as the messages it takes (converted, split below the chat's limit)."""

    def approval_request(
        self, approval_id: str, data: dict[str, Any], deciders: Sequence[str]
    ) -> dict[str, Any]:
        """The payload (``text`` and the chat's own keys) of a request for a decision."""

    def approval_decided(self, data: dict[str, Any], decision: str, by: str) -> dict[str, Any]:
        """The request's payload once ``by`` decided it."""

    def approval_expired(self, data: dict[str, Any]) -> dict[str, Any]:
        """The request's payload once the turn that asked ended undecided."""


@dataclass(frozen=True)
class EventContext:
    """What :func:`plan_posts` needs beyond the event, looked up by the caller."""

    deciders: Sequence[str] = ()
    # The thread's author as the chat mentions them: told when the task waits for a decision.
    mention: str | None = None
    approval_data: dict[str, Any] = field(default_factory=dict)
    decided_by: str | None = None
    total_tokens: int = 0


@dataclass(frozen=True)
class Plan:
    posts: list[Post]
    status_ref: str | None
    turn_ended: bool = False


def plan_posts(
    event: TaskEvent,
    session: Session,
    status_ref: str | None,
    ctx: EventContext,
    render: ChatRenderer,
) -> Plan:
    """The posts that show ``event`` in the session's thread."""
    posts: list[Post] = []

    def post(payload: dict[str, Any], *, ref: str | None = None) -> None:
        posts.append(session.post(POST, {**payload, "ref": ref} if ref else payload))

    def update(ref: str | None, payload: dict[str, Any]) -> None:
        if ref is not None:
            posts.append(session.post(UPDATE, {"ref": ref, **payload}))

    data = event.data
    if event.type.startswith("codex."):
        codex = event.codex_event()
        if codex is None:
            return Plan(posts, status_ref)
        if codex.kind is EventKind.TURN_STARTED:
            status_ref = f"status:{event.seq}"
            post({"text": render.working()}, ref=status_ref)
        elif codex.kind is EventKind.ITEM_STARTED and codex.item is not None:
            if codex.item.type is ItemType.COMMAND_EXECUTION and codex.item.command:
                update(status_ref, {"text": render.running(codex.item.command)})
        elif (
            codex.kind is EventKind.ITEM_COMPLETED
            and codex.item is not None
            and codex.item.type is ItemType.AGENT_MESSAGE
            and (codex.item.text or "").strip()
        ):
            for piece in render.answer(codex.item.text or ""):
                post({"text": piece})
        return Plan(posts, status_ref)

    if event.type == EventType.APPROVAL_REQUESTED:
        approval_id = str(data["approval_id"])
        request = render.approval_request(approval_id, data, ctx.deciders)
        if ctx.mention:  # the author hears of it, even when others decide
            request = {**request, "text": f"{ctx.mention} {request.get('text', '')}".rstrip()}
        post(request, ref=f"approval:{approval_id}")
        update(status_ref, {"text": render.waiting()})
    elif event.type == EventType.APPROVAL_DECIDED:
        decided = render.approval_decided(
            ctx.approval_data, str(data.get("decision")), ctx.decided_by or "someone"
        )
        update(f"approval:{data['approval_id']}", decided)
    elif event.type == EventType.APPROVAL_EXPIRED:
        update(f"approval:{data['approval_id']}", render.approval_expired(ctx.approval_data))
    elif event.type == EventType.TASK_STATE_CHANGED:
        to, source = data.get("to"), data.get("from")
        if to == "running" and source == "awaiting_approval":
            update(status_ref, {"text": render.working()})
        elif to in IDLE_STATES:  # the turn ended
            if to == "completed":
                update(status_ref, {"text": render.done(ctx.total_tokens)})
                if status_ref is None:
                    post({"text": render.done(ctx.total_tokens)})
            elif to == "interrupted":
                update(status_ref, {"text": render.stopped()})
            elif to == "cancelled":
                update(status_ref, {"text": render.cancelled()})
            else:
                text = render.failed(data.get("reason"))
                update(status_ref, {"text": text})
                post({"text": text})
            return Plan(posts, None, turn_ended=True)
    elif event.type == EventType.TASK_RECONCILED:
        update(status_ref, {"text": render.stopped()})
        post({"text": render.restarted()})
        return Plan(posts, None, turn_ended=True)
    elif event.type == JOB_FINISHED and data.get("report"):
        # A background job's end, as its task is told of it (exit status, output tail).
        for piece in render.answer(str(data["report"])):
            post({"text": piece})
    return Plan(posts, status_ref)
