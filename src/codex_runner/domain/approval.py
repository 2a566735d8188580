"""Approvals: a request from Codex, parked durably until someone decides.

An approval is ``pending`` until it is ``decided`` (once, with one of the decisions Codex
offered) or ``expired`` (the turn that asked is gone, e.g. after a crash or an interrupt).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from codex_runner.domain.events import ApprovalKind, ApprovalRequest, FileChange

# The decision recorded when another client of a shared app-server (a person in the Codex
# TUI) answered the request first. Codex does not say what they chose; the item that
# follows (run, declined) does. Nobody can choose it through the runner.
ANSWERED_ELSEWHERE = "answered_elsewhere"


class ApprovalState(StrEnum):
    PENDING = "pending"
    DECIDED = "decided"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Approval:
    """A parked Codex request (run this command, apply this patch) and its outcome.

    ``request_id``, ``thread_id``, ``turn_id`` and ``item_id`` are Codex's own ids, needed to
    answer the request on the live runtime.
    """

    id: str
    task_id: str
    request_id: str
    kind: ApprovalKind
    created_at: datetime
    thread_id: str | None = None
    turn_id: str | None = None
    item_id: str | None = None
    command: str | None = None
    cwd: str | None = None
    reason: str | None = None
    changes: tuple[FileChange, ...] = ()
    available_decisions: tuple[str, ...] = ("accept", "decline")
    state: ApprovalState = ApprovalState.PENDING
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None  # when it was decided or expired

    @classmethod
    def from_request(
        cls, request: ApprovalRequest, *, id: str, task_id: str, now: datetime
    ) -> Approval:
        """A pending approval for a request that Codex sent on ``task_id``'s thread."""
        return cls(
            id=id,
            task_id=task_id,
            request_id=request.id,
            kind=request.kind,
            created_at=now,
            thread_id=request.thread_id,
            turn_id=request.turn_id,
            item_id=request.item_id,
            command=request.command,
            cwd=request.cwd,
            reason=request.reason,
            changes=request.changes,
            available_decisions=request.available_decisions,
        )


class ApprovalError(Exception):
    """Base of approval errors; the message says what was wrong and what is possible."""


class DecisionNotOffered(ApprovalError):
    def __init__(self, approval: Approval, decision: str) -> None:
        self.approval_id = approval.id
        self.decision = decision
        self.offered = approval.available_decisions
        offered = ", ".join(self.offered) if self.offered else "nothing"
        super().__init__(
            f"approval {approval.id}: {decision!r} is not a decision Codex offered; "
            f"choose one of: {offered}"
        )


class ApprovalAlreadySettled(ApprovalError):
    """The approval was decided or expired before; it cannot be decided again."""

    def __init__(self, approval: Approval) -> None:
        self.approval_id = approval.id
        self.state = approval.state
        self.decision = approval.decision
        if approval.state is ApprovalState.DECIDED:
            detail = f"was already decided: {approval.decision!r} by {approval.decided_by}"
        else:
            detail = "has expired (the turn that asked for it has ended)"
        super().__init__(f"approval {approval.id} {detail}")


def decide(approval: Approval, decision: str, by: str, *, now: datetime) -> Approval:
    """The approval decided as ``decision`` by ``by`` (a user, "policy", ...).

    Raises :class:`ApprovalAlreadySettled` unless it is pending, and
    :class:`DecisionNotOffered` unless ``decision`` is one of ``available_decisions``.
    """
    if approval.state is not ApprovalState.PENDING:
        raise ApprovalAlreadySettled(approval)
    if decision not in approval.available_decisions and decision != ANSWERED_ELSEWHERE:
        raise DecisionNotOffered(approval, decision)
    return replace(
        approval,
        state=ApprovalState.DECIDED,
        decision=decision,
        decided_by=by,
        decided_at=now,
    )


def expire(approval: Approval, *, now: datetime) -> Approval:
    """The approval expired: nobody can answer it any more. Only a pending one can expire."""
    if approval.state is not ApprovalState.PENDING:
        raise ApprovalAlreadySettled(approval)
    return replace(approval, state=ApprovalState.EXPIRED, decided_at=now)
