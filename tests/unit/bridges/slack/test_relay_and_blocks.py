from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from codex_runner.bridges.chat.bridge_db import Session
from codex_runner.bridges.chat.relay_plan import EventContext, Plan, plan_posts
from codex_runner.bridges.slack import blocks
from codex_runner.bridges.slack.rendering import SlackRenderer
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType

SESSION = Session("k", "C1", "1.1", "t1", "U1")
NOW = datetime.now(UTC)


def event(seq: int, type: str, data: dict[str, Any]) -> TaskEvent:
    return TaskEvent("t1", seq, type, NOW, data)


def plan(event: TaskEvent, session: Session, status_ref: str | None, ctx: EventContext) -> Plan:
    return plan_posts(event, session, status_ref, ctx, SlackRenderer())


def codex(seq: int, ev: CodexEvent) -> TaskEvent:
    return event(seq, "codex." + ev.kind.value, ev.to_dict())


def test_a_turn_is_one_status_message_edited_in_place_plus_the_agent_messages() -> None:
    started = plan(codex(3, CodexEvent(EventKind.TURN_STARTED)), SESSION, None, EventContext())
    assert started.status_ref == "status:3"
    assert [(p.op, p.payload) for p in started.posts] == [
        ("post", {"text": blocks.WORKING, "ref": "status:3"})
    ]
    cmd = CodexEvent(
        EventKind.ITEM_STARTED, item=Item("i", ItemType.COMMAND_EXECUTION, command="ls")
    )
    running = plan(codex(4, cmd), SESSION, "status:3", EventContext())
    assert [(p.op, p.payload["ref"]) for p in running.posts] == [("update", "status:3")]
    said = CodexEvent(
        EventKind.ITEM_COMPLETED, item=Item("m", ItemType.AGENT_MESSAGE, text="**ok**")
    )
    message = plan(codex(5, said), SESSION, "status:3", EventContext())
    assert [p.payload["text"] for p in message.posts] == ["*ok*"]
    done = plan(
        event(6, "task.state_changed", {"from": "running", "to": "completed"}),
        SESSION,
        "status:3",
        EventContext(total_tokens=1234),
    )
    assert done.turn_ended and done.status_ref is None
    assert [(p.op, p.payload["text"]) for p in done.posts] == [("update", blocks.done_text(1234))]
    assert all(p.lane == "k" and p.thread == "1.1" and p.task_id == "t1" for p in done.posts)


def test_a_failure_is_posted_and_a_restart_is_explained() -> None:
    failed = plan(
        event(9, "task.state_changed", {"from": "running", "to": "failed", "reason": "boom"}),
        SESSION,
        None,
        EventContext(),
    )
    assert failed.turn_ended and [p.payload["text"] for p in failed.posts] == [":x: Failed: boom"]
    reconciled = plan(
        event(10, "task.reconciled", {"from": "running", "to": "interrupted"}),
        SESSION,
        "status:2",
        EventContext(),
    )
    assert reconciled.turn_ended and reconciled.posts[-1].payload["text"].startswith(":warning:")


def test_approval_buttons_offer_only_what_codex_offered_and_are_replaced_when_decided() -> None:
    data = {
        "approval_id": "a1",
        "kind": "command",
        "command": "rm -rf build",
        "available_decisions": ["accept", "cancel"],
    }
    asked = plan(
        event(4, "approval.requested", data), SESSION, "status:3", EventContext(deciders=["U1"])
    )
    request = asked.posts[0]
    assert request.payload["ref"] == "approval:a1"
    actions = next(b for b in request.payload["blocks"] if b["type"] == "actions")
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("approval:accept", "a1"),
        ("approval:cancel", "a1"),
    ]
    assert asked.posts[1].payload == {"ref": "status:3", "text": blocks.WAITING}
    decided = plan(
        event(5, "approval.decided", {"approval_id": "a1", "decision": "accept", "by": "slack:U1"}),
        SESSION,
        "status:3",
        EventContext(approval_data=data, decided_by="Ann"),
    )
    update = decided.posts[0]
    assert update.op == "update" and update.payload["ref"] == "approval:a1"
    assert update.payload["text"] == "Approve: decided by Ann"
    assert not any(b["type"] == "actions" for b in update.payload["blocks"])


def test_a_long_answer_shows_its_end_while_it_is_written() -> None:
    text = SlackRenderer().writing("a" * 10_000 + "THE END")
    assert len(text) < 3_100 and text.endswith("THE END") and "…" in text
