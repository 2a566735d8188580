"""The deliverer: sends the outbox's notifications to their webhooks (docs/notifications.md).

Each attempt is one signed POST, bounded by ``[notify] timeout_s``; at most
``max_concurrent`` are in flight. A notification is claimed in the store before it is sent
(a lease longer than an attempt), so of several hosts on one database one sends it; if a
host dies mid-attempt the claim runs out and another sends it again: at least once, and the
receiver de-duplicates on the id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import httpx

import codex_runner
from codex_runner.config.notify import NotifySettings
from codex_runner.domain.notify import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    DeliveryAttempt,
    Notification,
    RetryPolicy,
    signature,
)
from codex_runner.service.notify_targets import NotifyTargets
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

# A claim outlives its attempt by this much (the store write after the POST included).
CLAIM_SLACK = timedelta(seconds=30)
ERROR_MAX = 500


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    return RetryPolicy(
        base=timedelta(seconds=settings.backoff_base_s),
        cap=timedelta(seconds=settings.backoff_cap_s),
        give_up_after=timedelta(seconds=settings.retry_for_s),
    )


class Deliverer:
    def __init__(
        self,
        store: Store,
        targets: NotifyTargets,
        client: httpx.AsyncClient,
        *,
        host_id: str,
        clock: Callable[[], datetime],
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._targets = targets
        self._settings = targets.settings
        self._client = client
        self._host_id = host_id
        self._clock = clock
        self._rand = rand
        self._policy = retry_policy(self._settings)
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[DeliveryAttempt]] = set()

    def wake(self) -> None:
        """Look at the outbox now (something was enqueued)."""
        self._wake.set()

    async def claim(self, limit: int) -> list[Notification]:
        now = self._clock()
        until = now + timedelta(seconds=self._settings.timeout_s) + CLAIM_SLACK
        return await self._store.claim_notifications(
            self._host_id, now=now, until=until, limit=limit
        )

    async def deliver_due(self) -> int:
        """One pass: send every notification due now (up to ``max_concurrent``), wait for
        them; how many were tried."""
        rows = await self.claim(self._settings.max_concurrent)
        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(self.attempt(row), name=f"notify-{row.id}")
        return len(rows)

    async def attempt(self, row: Notification) -> DeliveryAttempt:
        """Send ``row`` once and record the attempt (and when to retry, or that it is given
        up); never raises but for cancellation."""
        attempt = await self._send(row)
        retry_at = None
        if not attempt.succeeded:
            tried = replace(row, attempts=row.attempts + 1)
            retry_at = self._policy.after_failure(tried, attempt.at, self._rand)
            if retry_at is None:
                log.warning(
                    "notification %s (%s to %s) given up after %d attempts",
                    row.id,
                    row.kind,
                    row.webhook or "a task's URL",
                    tried.attempts,
                )
        try:
            await self._store.record_notification_attempt(
                row.id, self._host_id, attempt, retry_at=retry_at
            )
        except Exception:
            # The claim runs out and the notification is sent again: at least once.
            log.exception("notification %s: recording its attempt failed", row.id)
        return attempt

    async def _send(self, row: Notification) -> DeliveryAttempt:
        secret = self._targets.secret(row.webhook)
        if secret is None:
            return DeliveryAttempt(
                self._clock(),
                error=f"webhook {row.webhook or '(a task URL)'} is no longer configured "
                "(or [notify] task_webhook_secret was removed)",
            )
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"codex-runner/{codex_runner.__version__}",
            SIGNATURE_HEADER: signature(secret, timestamp, row.body),
            DELIVERY_HEADER: row.id,
        }
        try:
            response = await self._client.post(
                row.url,
                content=row.body.encode(),
                headers=headers,
                timeout=self._settings.timeout_s,
            )
        except httpx.HTTPError as exc:
            return DeliveryAttempt(self._clock(), error=self._describe(exc, row))
        return DeliveryAttempt(self._clock(), status_code=response.status_code)

    def _describe(self, exc: Exception, row: Notification) -> str:
        # A webhook URL often carries its own token: it is named, never shown.
        text = f"{type(exc).__name__}: {exc}".replace(row.url, row.webhook or "<url>")
        return text[:ERROR_MAX]

    async def run(self) -> None:
        """Deliver forever: claim what is due whenever a slot is free, something was
        enqueued, an attempt ended, or ``poll_s`` passed."""
        limit = self._settings.max_concurrent
        try:
            while True:
                self._wake.clear()
                free = limit - len(self._inflight)
                if free > 0:
                    try:
                        rows = await self.claim(free)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("notifications: claiming from the outbox failed")
                        rows = []
                    for row in rows:
                        task = asyncio.create_task(self.attempt(row), name=f"notify-{row.id}")
                        self._inflight.add(task)
                        task.add_done_callback(self._finished)
                    if len(rows) == free:
                        continue  # more may be due
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.poll_s)
        finally:
            for task in self._inflight:
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _finished(self, task: asyncio.Task[DeliveryAttempt]) -> None:
        self._inflight.discard(task)
        self._wake.set()
