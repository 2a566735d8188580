"""The chat core's rules: commands, access, approvers, queueing, session keys."""

from __future__ import annotations

import pytest

from codex_runner.bridges.chat import rules
from codex_runner.bridges.chat.rules import AccessPolicy, Command, Delivery
from codex_runner.domain.task import TaskState


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("-stop", Command.STOP),
        ("stop", Command.STOP),
        (" Stop! ", Command.STOP),
        ("-status", Command.STATUS),
        ("stop the build", None),
        ("status", None),
    ],
)
def test_commands(text: str, command: Command | None) -> None:
    assert rules.parse_command(text) is command


def test_access_policy_empty_means_everyone() -> None:
    assert AccessPolicy().allows("anyone", "anywhere")
    policy = AccessPolicy(frozenset({"U1"}), frozenset({"C1"}))
    assert policy.allows("U1", "C1")
    assert not policy.allows("U1", "C2") and not policy.allows("U2", "C1")


def test_approvers_default_to_the_requester() -> None:
    assert rules.may_decide("U1", approvers=(), requester="U1")
    assert not rules.may_decide("U2", approvers=(), requester="U1")
    assert rules.may_decide("U2", approvers={"U2"}, requester="U1")
    assert not rules.may_decide("U1", approvers={"U2"}, requester="U1")


@pytest.mark.parametrize(
    ("state", "depth", "delivery"),
    [
        (TaskState.COMPLETED, 0, Delivery.NOW),
        (TaskState.INTERRUPTED, 0, Delivery.NOW),
        (TaskState.COMPLETED, 1, Delivery.QUEUE),  # others wait first: keep the order
        (TaskState.RUNNING, 0, Delivery.QUEUE),
        (TaskState.AWAITING_APPROVAL, 0, Delivery.QUEUE),
        (TaskState.QUEUED, 0, Delivery.QUEUE),
        (TaskState.FAILED, 0, Delivery.NEW_TASK),
        (TaskState.CANCELLED, 2, Delivery.QUEUE),
    ],
)
def test_delivery_plan(state: TaskState, depth: int, delivery: Delivery) -> None:
    assert rules.plan_delivery(state, depth) is delivery


def test_session_key_is_a_safe_directory_name() -> None:
    assert rules.session_key("C1", "1700000000.000100") == "C1-1700000000_000100"
    assert "/" not in rules.session_key("../x", "1.2")


def test_the_status_line_names_state_queue_and_tokens() -> None:
    line = rules.status_line(TaskState.RUNNING, 2, 12345)
    assert "running" in line and "queued messages: 2" in line and "12,345" in line


def test_only_an_idle_task_takes_the_next_queued_message() -> None:
    assert rules.can_take_next(TaskState.COMPLETED)
    assert not rules.can_take_next(TaskState.RUNNING)
    assert not rules.can_take_next(TaskState.AWAITING_APPROVAL)
