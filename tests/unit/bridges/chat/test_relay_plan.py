"""The relay's plan for every chat: one status message per turn edited in place, answers
posted whole, approval requests posted and settled, a turn's end said once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from codex_runner.bridges.chat.bridge_db import Session
from codex_runner.bridges.chat.memory import PlainRenderer
from codex_runner.bridges.chat.relay_plan import EventContext, Plan, plan_posts
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import CodexEvent, EventKind, Item, ItemType

SESSION = Session("k", "general", "thread-1", "t1", "ann")
NOW = datetime.now(UTC)


def plan(seq: int, type: str, data: dict[str, Any], status_ref: str | None, **ctx: Any) -> Plan:
    event = TaskEvent("t1", seq, type, NOW, data)
    return plan_posts(event, SESSION, status_ref, EventContext(**ctx), PlainRenderer())


def codex(seq: int, ev: CodexEvent, status_ref: str | None) -> Plan:
    return plan(seq, "codex." + ev.kind.value, ev.to_dict(), status_ref)


def said(plan: Plan) -> list[tuple[str, str | None, str]]:
    return [(p.op, p.payload.get("ref"), p.payload["text"]) for p in plan.posts]


def test_a_turn_posts_one_status_message_and_edits_it_until_done() -> None:
    started = codex(3, CodexEvent(EventKind.TURN_STARTED), None)
    assert started.status_ref == "status:3"
    assert said(started) == [("post", "status:3", "Working")]
    command = Item("c", ItemType.COMMAND_EXECUTION, command="make test")
    running = codex(4, CodexEvent(EventKind.ITEM_STARTED, item=command), "status:3")
    assert said(running) == [("update", "status:3", "Running make test")]
    answer = Item("m", ItemType.AGENT_MESSAGE, text="All green.")
    answered = codex(5, CodexEvent(EventKind.ITEM_COMPLETED, item=answer), "status:3")
    assert said(answered) == [("post", None, "All green.")]
    done = plan(6, "task.state_changed", {"to": "completed"}, "status:3", total_tokens=42)
    assert done.turn_ended and done.status_ref is None
    assert said(done) == [("update", "status:3", "Done (42 tokens)")]
    posts = started.posts + running.posts + answered.posts + done.posts
    assert {(p.lane, p.channel, p.thread, p.task_id) for p in posts} == {
        ("k", "general", "thread-1", "t1")
    }


def test_an_empty_answer_and_other_items_post_nothing() -> None:
    empty = Item("m", ItemType.AGENT_MESSAGE, text="  ")
    assert codex(5, CodexEvent(EventKind.ITEM_COMPLETED, item=empty), "status:3").posts == []
    reasoning = Item("r", ItemType.REASONING, text="thinking")
    assert codex(6, CodexEvent(EventKind.ITEM_COMPLETED, item=reasoning), "status:3").posts == []


def test_an_approval_is_posted_with_its_decisions_and_edited_when_decided() -> None:
    data = {"approval_id": "a1", "command": "rm -rf build", "available_decisions": ["accept"]}
    asked = plan(4, "approval.requested", data, "status:3", deciders=["ann"])
    request = asked.posts[0]
    assert request.payload == {
        "text": "Approve rm -rf build? (ann)",
        "actions": ["accept"],
        "ref": "approval:a1",
    }
    assert said(asked)[1] == ("update", "status:3", "Waiting for an approval")
    assert asked.status_ref == "status:3" and not asked.turn_ended
    decided = plan(
        5,
        "approval.decided",
        {"approval_id": "a1", "decision": "accept"},
        "status:3",
        decided_by="Ann",
    )
    assert said(decided) == [("update", "approval:a1", "accept by Ann")]
    resumed = plan(
        6, "task.state_changed", {"from": "awaiting_approval", "to": "running"}, "status:3"
    )
    assert said(resumed) == [("update", "status:3", "Working")]
    expired = plan(7, "approval.expired", {"approval_id": "a2"}, "status:3")
    assert said(expired) == [("update", "approval:a2", "Expired")]


def test_a_failure_is_said_twice_and_a_restart_once_with_the_turn_stopped() -> None:
    failed = plan(9, "task.state_changed", {"to": "failed", "reason": "boom"}, "status:3")
    assert failed.turn_ended
    assert said(failed) == [("update", "status:3", "Failed: boom"), ("post", None, "Failed: boom")]
    restarted = plan(10, "task.reconciled", {"to": "interrupted"}, "status:3")
    assert restarted.turn_ended
    assert said(restarted) == [
        ("update", "status:3", "Stopped"),
        ("post", None, "The runner restarted during this turn"),
    ]


def test_a_turn_that_ends_without_a_status_message_still_says_done() -> None:
    done = plan(6, "task.state_changed", {"to": "completed"}, None, total_tokens=7)
    assert said(done) == [("post", None, "Done (7 tokens)")]
    stopped = plan(7, "task.state_changed", {"to": "interrupted"}, None)
    assert stopped.turn_ended and stopped.posts == []


def test_an_approval_request_mentions_the_thread_s_author_even_when_others_decide() -> None:
    data = {"approval_id": "a1", "command": "make deploy", "available_decisions": ["accept"]}
    asked = plan(4, "approval.requested", data, None, deciders=["lead"], mention="@ann")
    assert asked.posts[0].payload["text"] == "@ann Approve make deploy? (lead)"
    unmentioned = plan(4, "approval.requested", data, None, deciders=["lead"])
    assert unmentioned.posts[0].payload["text"] == "Approve make deploy? (lead)"


def test_a_background_jobs_end_is_posted_as_its_task_is_told() -> None:
    report = "Background job j_1 (make test) succeeded: exit 0.\nall 12 passed"
    ended = plan(9, "job.finished", {"job_id": "j_1", "report": report}, "status:7")
    assert said(ended) == [("post", None, report)]
    assert not ended.turn_ended and ended.status_ref == "status:7"
    started = plan(8, "job.started", {"job_id": "j_1"}, None)
    assert started.posts == []
