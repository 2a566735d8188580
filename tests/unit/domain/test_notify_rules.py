"""Notification rules: which events notify, the signature receivers check, the retry plan."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.notify import (
    Notification,
    NotifyKind,
    RetryPolicy,
    kind_of,
    notification_id,
    payload,
    signature,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(type_: str, **data: object) -> TaskEvent:
    return TaskEvent("t_1", 3, type_, T0, dict(data))


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (ev("task.state_changed", to="completed"), NotifyKind.TASK_COMPLETED),
        (ev("task.state_changed", to="failed"), NotifyKind.TASK_FAILED),
        (ev("task.reconciled", to="interrupted"), NotifyKind.TASK_INTERRUPTED),
        (ev("task.state_changed", to="running"), None),
        (ev("task.state_changed", to="awaiting_approval"), None),
        (ev("approval.requested", approval_id="a"), NotifyKind.TASK_AWAITING_APPROVAL),
        (ev("graph.completed", graph_id="g"), NotifyKind.GRAPH_COMPLETED),
        (ev("graph.failed", graph_id="g"), NotifyKind.GRAPH_COMPLETED),
        (ev("auth.failover", to="b"), NotifyKind.AUTH_RATE_LIMITED),
        (ev("codex.item.completed"), None),
    ],
)
def test_only_events_people_wait_for_notify(event: TaskEvent, kind: NotifyKind | None) -> None:
    assert kind_of(event) == kind


def test_the_signature_is_the_hmac_of_time_dot_body_a_receiver_can_recompute() -> None:
    body = payload("nt_1", "task.completed", T0, {"task_id": "t_1"})
    header = signature("k" * 20, 1_700_000_000, body)
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(b"k" * 20, f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    assert (t, v1) == ("1700000000", expected)
    assert signature("other-secret-xxxx", 1_700_000_000, body) != header
    assert json.loads(body)["id"] == "nt_1"


def test_the_same_event_for_the_same_target_has_one_id() -> None:
    one = notification_id("ops", "t_1", "3")
    assert one == notification_id("ops", "t_1", "3")
    assert one != notification_id("ops", "t_1", "4")
    assert one != notification_id("https://x", "t_1", "3")


def row(created: datetime, attempts: int) -> Notification:
    return Notification(
        "nt_1", "https://x", None, "t_1", "task.failed", "{}", created, created, attempts=attempts
    )


def test_retries_back_off_exponentially_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=60))
    highest = [policy.delay(n, lambda: 1.0).total_seconds() for n in range(1, 9)]
    assert highest == [2, 4, 8, 16, 32, 60, 60, 60]
    assert policy.delay(3, lambda: 0.0).total_seconds() == 4  # half: never at once


def test_a_delivery_is_given_up_once_its_next_try_would_pass_the_limit() -> None:
    policy = RetryPolicy(cap=timedelta(minutes=10), give_up_after=timedelta(hours=24))
    created = T0
    assert policy.after_failure(row(created, 5), T0 + timedelta(hours=1), lambda: 1.0) is not None
    late = T0 + timedelta(hours=23, minutes=55)
    assert policy.after_failure(row(created, 90), late, lambda: 1.0) is None
