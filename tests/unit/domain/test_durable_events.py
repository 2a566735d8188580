"""Durable events: domain-language types, their data, and Codex events wrapped losslessly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from codex_runner.domain import durable_event as de
from codex_runner.domain.approval import Approval, decide, expire
from codex_runner.domain.events import (
    ApprovalKind,
    ApprovalRequest,
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    FileChange,
    Item,
    ItemType,
    TokenUsage,
)
from codex_runner.domain.graph import ChildSpec, GraphSpec, instantiate
from codex_runner.domain.task import RuntimeSettings, Task, WorkspaceRequest
from codex_runner.domain.transitions import Action

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def json_round_trip(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(data))
    return result


def make_task(**fields: Any) -> Task:
    return Task(
        id="t_1",
        prompt="fix it",
        workspace=WorkspaceRequest.git("/repo", "main"),
        created_at=T0,
        updated_at=T0,
        **fields,
    )


def test_event_types_are_in_the_domain_language() -> None:
    assert {t.value for t in de.EventType} == {
        "task.created",
        "task.state_changed",
        "task.reconciled",
        "task.message_received",
        "graph.created",
        "graph.child_started",
        "graph.child_completed",
        "graph.child_failed",
        "graph.dependency_satisfied",
        "graph.completed",
        "graph.failed",
        "approval.requested",
        "approval.decided",
        "approval.expired",
        "auth.failover",
        "workspace.removed",
    }
    assert "codex.turn.completed" in de.EVENT_TYPES
    assert all(de.codex_event_type(k) in de.EVENT_TYPES for k in EventKind)


def test_task_created_describes_the_task_without_empty_fields() -> None:
    event = de.task_created(make_task(priority=2, settings=RuntimeSettings(model="m")))
    assert event.type == "task.created" and event.at == T0
    assert event.data == {
        "prompt": "fix it",
        "priority": 2,
        "workspace": {"repo": "/repo", "base_ref": "main"},
        "settings": {"model": "m"},
        "max_runtime_s": 18000.0,
    }
    assert json_round_trip(event.data) == event.data


def test_a_transition_comes_with_its_state_change_event() -> None:
    now = T0 + timedelta(seconds=1)
    after, event = de.transition(make_task(), Action.START, now=now, reason="slot free")
    assert event == de.NewEvent(
        "task.state_changed",
        now,
        {"from": "queued", "to": "running", "action": "start", "reason": "slot free"},
    )
    assert after.state.value == "running"


def test_reconciliation_is_recorded_as_task_reconciled() -> None:
    running = make_task(state="running")
    _, event = de.transition(running, Action.RECONCILE, now=T0, reason="runner restarted")
    assert event.type == "task.reconciled"
    assert event.data["to"] == "interrupted" and event.data["reason"] == "runner restarted"
    assert event.type in de.STATE_CHANGE_TYPES


def test_graph_created_maps_keys_to_child_ids() -> None:
    ids = iter(["t_a", "t_b"])
    plan = instantiate(
        GraphSpec((ChildSpec("a", "x"), ChildSpec("b", "y", ("a",)))),
        make_task(),
        graph_id="g_1",
        new_task_id=lambda: next(ids),
        now=T0,
    )
    event = de.graph_created(plan)
    assert event.data == {"graph_id": "g_1", "children": {"a": "t_a", "b": "t_b"}}


def test_approval_events() -> None:
    request = ApprovalRequest(
        id="r",
        kind=ApprovalKind.COMMAND,
        thread_id="th",
        turn_id="tu",
        command="rm -rf build",
        changes=(FileChange("x", "update", "diff"),),
    )
    approval = Approval.from_request(request, id="a_1", task_id="t_1", now=T0)
    requested = de.approval_requested(approval)
    assert requested.type == "approval.requested"
    assert requested.data["command"] == "rm -rf build"
    assert requested.data["available_decisions"] == ["accept", "decline"]
    assert requested.data["changes"] == [{"path": "x", "kind": "update", "diff": "diff"}]
    decided = de.approval_decided(decide(approval, "accept", "bob", now=T0))
    assert decided.data == {"approval_id": "a_1", "decision": "accept", "by": "bob"}
    assert de.approval_expired(expire(approval, now=T0)).data == {"approval_id": "a_1"}


def test_message_received() -> None:
    assert de.message_received("and the docs", at=T0).data == {"text": "and the docs"}


CODEX_EVENTS = [
    CodexEvent(EventKind.THREAD_STARTED, thread_id="th"),
    CodexEvent(
        EventKind.ITEM_COMPLETED,
        thread_id="th",
        turn_id="tu",
        item=Item(
            id="i",
            type=ItemType.FILE_CHANGE,
            changes=(FileChange("a.py", "add", "+x"),),
            status="completed",
        ),
    ),
    CodexEvent(EventKind.TOKEN_USAGE, usage=TokenUsage(1, 2, 3, 4, 10)),
    CodexEvent(
        EventKind.TURN_FAILED,
        error=ErrorInfo("boom", FailureClass.MODEL_ERROR, detail="d", will_retry=True),
    ),
    CodexEvent(
        EventKind.APPROVAL_REQUESTED,
        approval=ApprovalRequest(
            id="r", kind=ApprovalKind.COMMAND, thread_id="th", turn_id=None, command="ls"
        ),
    ),
    CodexEvent(EventKind.TURN_COMPLETED, message="done", data={"extra": [1, 2]}),
]


@pytest.mark.parametrize("codex_event", CODEX_EVENTS, ids=lambda e: e.kind.value)
def test_a_codex_event_survives_storage_unchanged(codex_event: CodexEvent) -> None:
    new = de.codex(codex_event, at=T0)
    assert new.type == f"codex.{codex_event.kind.value}"
    stored = de.TaskEvent("t_1", 4, new.type, new.at, json_round_trip(new.data))
    assert stored.codex_event() == codex_event


def test_runner_events_are_not_codex_events_and_serialize_to_json() -> None:
    stored = de.TaskEvent("t_1", 1, "task.created", T0, {"prompt": "p"})
    assert stored.codex_event() is None
    assert json.loads(json.dumps(stored.to_dict())) == {
        "task_id": "t_1",
        "seq": 1,
        "type": "task.created",
        "at": "2026-01-01T00:00:00+00:00",
        "data": {"prompt": "p"},
    }


@pytest.mark.parametrize("bad", ["", "task", "Task.Created", "task..x", "task.created "])
def test_event_types_must_be_dotted_lowercase(bad: str) -> None:
    with pytest.raises(ValueError, match="dotted lowercase"):
        de.NewEvent(bad, T0)


def test_event_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        de.NewEvent("task.created", datetime(2026, 1, 1))


def test_codex_event_to_dict_matches_asdict_without_empty_fields() -> None:
    from dataclasses import asdict

    from codex_runner.domain.events import (
        ApprovalKind,
        ApprovalRequest,
        CodexEvent,
        ErrorInfo,
        FailureClass,
        FileChange,
        Item,
        ItemType,
        TokenUsage,
    )

    events = [
        CodexEvent(
            EventKind.ITEM_COMPLETED,
            thread_id="th",
            item=Item(id="i", type=ItemType.FILE_CHANGE, changes=(FileChange("a", "add", "d"),)),
            usage=TokenUsage(1, 2, 3, 4, 10),
            data={"x": [1]},
        ),
        CodexEvent(
            EventKind.APPROVAL_REQUESTED,
            approval=ApprovalRequest("r", ApprovalKind.COMMAND, "th", None, command="ls"),
            error=ErrorInfo("boom", FailureClass.INTERNAL),
        ),
        CodexEvent(EventKind.TURN_STARTED),
    ]
    for event in events:
        expected = {k: v for k, v in asdict(event).items() if v not in (None, {}, ())}
        assert event.to_dict() == expected
