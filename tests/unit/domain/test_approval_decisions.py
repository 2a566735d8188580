"""An approval is decided once, only with a decision Codex offered, or it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.domain.approval import (
    Approval,
    ApprovalAlreadySettled,
    ApprovalState,
    DecisionNotOffered,
    decide,
    expire,
)
from codex_runner.domain.events import ApprovalKind, ApprovalRequest, FileChange

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(minutes=3)


def pending() -> Approval:
    request = ApprovalRequest(
        id="req-7",
        kind=ApprovalKind.FILE_CHANGE,
        thread_id="th_1",
        turn_id="tu_1",
        item_id="it_1",
        reason="write the file",
        changes=(FileChange("a.py", "add"),),
        available_decisions=("accept", "acceptForSession", "decline"),
    )
    return Approval.from_request(request, id="a_1", task_id="t_1", now=T0)


def test_from_request_keeps_codex_ids_and_offered_decisions() -> None:
    approval = pending()
    assert approval.state is ApprovalState.PENDING
    assert (approval.request_id, approval.thread_id, approval.turn_id) == ("req-7", "th_1", "tu_1")
    assert approval.available_decisions == ("accept", "acceptForSession", "decline")
    assert approval.changes == (FileChange("a.py", "add"),)
    assert approval.created_at == T0


def test_deciding_records_decision_who_and_when() -> None:
    decided = decide(pending(), "acceptForSession", "alice", now=LATER)
    assert decided.state is ApprovalState.DECIDED
    assert (decided.decision, decided.decided_by, decided.decided_at) == (
        "acceptForSession",
        "alice",
        LATER,
    )


def test_a_decision_not_offered_is_refused_listing_the_offer() -> None:
    with pytest.raises(DecisionNotOffered) as caught:
        decide(pending(), "yolo", "alice", now=LATER)
    assert caught.value.offered == ("accept", "acceptForSession", "decline")
    assert str(caught.value) == (
        "approval a_1: 'yolo' is not a decision Codex offered; "
        "choose one of: accept, acceptForSession, decline"
    )


def test_deciding_twice_is_refused_naming_the_first_decision() -> None:
    decided = decide(pending(), "accept", "alice", now=LATER)
    with pytest.raises(ApprovalAlreadySettled, match="already decided: 'accept' by alice"):
        decide(decided, "decline", "bob", now=LATER)


def test_an_expired_approval_cannot_be_decided_and_expires_once() -> None:
    expired = expire(pending(), now=LATER)
    assert expired.state is ApprovalState.EXPIRED and expired.decided_at == LATER
    assert expired.decision is None
    with pytest.raises(ApprovalAlreadySettled, match="expired"):
        decide(expired, "accept", "alice", now=LATER)
    with pytest.raises(ApprovalAlreadySettled):
        expire(expired, now=LATER)
    with pytest.raises(ApprovalAlreadySettled):
        expire(decide(pending(), "accept", "a", now=LATER), now=LATER)
