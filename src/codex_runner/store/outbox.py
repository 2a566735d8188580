"""The notifications outbox every store keeps (part of the Store protocol; domain.notify).

Rules every implementation keeps:

- ``enqueue_notifications`` adds only ids it does not have: enqueuing the same notification
  again (after a crash, from a catch-up) changes nothing.
- A claim hands a notification to one host until ``until``; only the first pending
  notification of each (url, order_key) can be claimed, so one target gets one task's
  notifications in order, each delivered or given up before the next is tried. On
  PostgreSQL rows another host is claiming are skipped (FOR UPDATE SKIP LOCKED).
- ``record_notification_attempt`` writes only for the host that holds the claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from codex_runner.domain.notify import DeliveryAttempt, DeliveryState, Notification

DEFAULT_NOTIFICATION_PAGE = 100


class NotifyOutbox(Protocol):
    async def enqueue_notifications(self, notifications: Sequence[Notification]) -> int:
        """Add the notifications whose id is new (the others are left as they are); how
        many were added."""

    async def claim_notifications(
        self, host_id: str, *, now: datetime, until: datetime, limit: int
    ) -> list[Notification]:
        """Up to ``limit`` pending notifications due at ``now``, unclaimed (or whose claim
        ran out), each the first pending one of its url and order_key, oldest first;
        claimed by ``host_id`` until ``until``."""

    async def record_notification_attempt(
        self,
        notification_id: str,
        host_id: str,
        attempt: DeliveryAttempt,
        *,
        retry_at: datetime | None,
    ) -> bool:
        """Record one attempt and release the claim: a 2xx delivers the notification, a
        failure makes it due again at ``retry_at`` (None: given up). False, and nothing
        written, when ``host_id`` no longer holds its claim."""

    async def list_notifications(
        self, *, state: DeliveryState | None = None, limit: int = DEFAULT_NOTIFICATION_PAGE
    ) -> list[Notification]:
        """Notifications newest first, optionally in one state."""

    async def notification_attempts(self, notification_id: str) -> list[DeliveryAttempt]:
        """A notification's attempts, first first."""

    async def release_notification_claims(self, host_id: str) -> int:
        """Free the claims ``host_id`` holds (a host that starts again has no attempt in
        flight); how many were freed."""

    async def prune_notifications(self, finished_before: datetime) -> int:
        """Remove the delivered and given-up notifications (and their attempts) that
        finished before ``finished_before``; how many were removed."""
