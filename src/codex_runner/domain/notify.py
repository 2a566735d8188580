"""Notifications (docs/notifications.md): which events people are told about, the outbox
row a webhook delivery is, its signature and its retry schedule. Pure: no I/O.

A notification is one committed task event of interest (:func:`kind_of`) for one target
(a configured webhook or a URL a task named). Its id is derived from the target and the
event, so enqueuing it twice keeps one row and the receiver can de-duplicate on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from codex_runner.domain.durable_event import EventType, TaskEvent


class NotifyKind(StrEnum):
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_AWAITING_APPROVAL = "task.awaiting_approval"
    TASK_INTERRUPTED = "task.interrupted"
    GRAPH_COMPLETED = "graph.completed"
    AUTH_RATE_LIMITED = "auth.rate_limited"
    DISK_LOW = "disk.low"


NOTIFY_KINDS: tuple[str, ...] = tuple(k.value for k in NotifyKind)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"


SIGNATURE_HEADER = "X-Codex-Runner-Signature"
DELIVERY_HEADER = "X-Codex-Runner-Delivery"
# A final message or reason longer than this is cut in a payload (the task has it whole).
TEXT_MAX = 4000

_ENDS = {
    "completed": NotifyKind.TASK_COMPLETED,
    "failed": NotifyKind.TASK_FAILED,
    "interrupted": NotifyKind.TASK_INTERRUPTED,
}
_STATE_CHANGES = frozenset({EventType.TASK_STATE_CHANGED.value, EventType.TASK_RECONCILED.value})


def kind_of(event: TaskEvent) -> NotifyKind | None:
    """The notification a committed event makes, None for most events.

    A task waits for an approval once per ``approval.requested`` (each one needs a person);
    a graph's end is told on its parent, failed or not (``data.state`` says which).
    """
    if event.type in _STATE_CHANGES:
        return _ENDS.get(str(event.data.get("to")))
    if event.type == EventType.APPROVAL_REQUESTED:
        return NotifyKind.TASK_AWAITING_APPROVAL
    if event.type in (EventType.GRAPH_COMPLETED, EventType.GRAPH_FAILED):
        return NotifyKind.GRAPH_COMPLETED
    if event.type == EventType.AUTH_FAILOVER:
        return NotifyKind.AUTH_RATE_LIMITED
    return None


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try at a delivery: the HTTP status the receiver answered, or why none came."""

    at: datetime
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Notification:
    """One outbox row: ``body`` is sent byte for byte on every attempt (it carries ``id``).

    ``order_key`` is the task (or ``disk``, ``auth``) whose notifications one target gets in
    order; ``webhook`` names the configured webhook whose secret signs it (None: a URL a
    task named, signed with ``[notify] task_webhook_secret``).
    """

    id: str
    url: str
    webhook: str | None
    order_key: str
    kind: str
    body: str
    created_at: datetime
    next_attempt_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = None
    finished_at: datetime | None = None


def notification_id(target: str, order_key: str, position: str) -> str:
    """The same event for the same target always has the same id (idempotent enqueue)."""
    digest = hashlib.sha256(f"{target}\n{order_key}\n{position}".encode()).hexdigest()
    return "nt_" + digest[:29]


def payload(notification_id: str, kind: str, at: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body a receiver gets (compact, keys sorted: the same bytes every time)."""
    body = {"id": notification_id, "kind": kind, "at": at.isoformat(), "data": dict(data)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def cut(text: object) -> object:
    if isinstance(text, str) and len(text) > TEXT_MAX:
        return text[:TEXT_MAX] + "…"
    return text


def signature(secret: str, timestamp: int, body: str) -> str:
    """The ``X-Codex-Runner-Signature`` value: ``t=UNIX_SECONDS,v1=HEX``, HEX the hex
    HMAC-SHA256 of ``f"{t}.{body}"`` under the webhook's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, for ``give_up_after`` in all."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=10)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, rand: Callable[[], float]) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: up to base * 2**(n-1), capped,
        at least half of it (so a burst of failures spreads, yet never retries at once)."""
        doublings = min(max(attempts - 1, 0), 30)
        ceiling_s = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**doublings)
        return timedelta(seconds=ceiling_s * (0.5 + 0.5 * rand()))

    def after_failure(
        self, row: Notification, now: datetime, rand: Callable[[], float]
    ) -> datetime | None:
        """When to try ``row`` next after its latest failed attempt, None to give up."""
        due = now + self.delay(row.attempts, rand)
        if due - row.created_at > self.give_up_after:
            return None
        return due
