"""Notifications in the daemon: the planner following the event bus, and the deliverer
(docs/notifications.md). :meth:`Notifier.start` catches up on what a crash left out, then
both run as named tasks until :meth:`Notifier.stop`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from codex_runner.config.notify import NotifySettings
from codex_runner.domain.notify import DeliveryAttempt, DeliveryState, Notification, NotifyKind
from codex_runner.service.event_bus import EventBus
from codex_runner.service.notify_delivery import Deliverer
from codex_runner.service.notify_planner import NotifyPlanner
from codex_runner.service.notify_targets import NotifyTargets
from codex_runner.store.outbox import DEFAULT_NOTIFICATION_PAGE
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
PRUNE_INTERVAL_S = 3600.0


class DiskLowMoment(Protocol):
    """What a disk.low notification says (the disk policy's ``DiskLow``)."""

    @property
    def free_bytes(self) -> int: ...
    @property
    def min_free_bytes(self) -> int: ...
    @property
    def at(self) -> datetime: ...


class Notifier:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        settings: NotifySettings,
        *,
        host_id: str,
        clock: Callable[[], datetime],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self.targets = NotifyTargets(settings)
        # Redirects are not followed: a signed body goes only where it was configured to.
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.max_concurrent),
        )
        self.deliverer = Deliverer(store, self.targets, self._client, host_id=host_id, clock=clock)
        self.planner = NotifyPlanner(
            store, self.targets, clock=clock, on_enqueued=self.deliverer.wake
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._settings = settings
        self._host_id = host_id
        self._clock = clock

    async def start(self) -> None:
        subscription = self._bus.subscribe()  # before the catch-up: nothing falls between
        try:
            # Attempts this host had on their way when it stopped are tried again now, not
            # once their claims run out.
            await self._store.release_notification_claims(self._host_id)
            await self.planner.catch_up()
        except Exception:
            log.exception("notifications: the catch-up after a restart failed")
        self._tasks = [
            asyncio.create_task(self.planner.follow(self._bus, subscription), name="notify-plan"),
            asyncio.create_task(self.deliverer.run(), name="notify-deliver"),
            asyncio.create_task(self._prune_now_and_then(), name="notify-prune"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
        self._tasks = []
        await self._client.aclose()

    async def prune(self) -> int:
        """Remove the notifications that finished more than ``[notify] keep_s`` ago."""
        before = self._clock() - timedelta(seconds=self._settings.keep_s)
        return await self._store.prune_notifications(before)

    async def _prune_now_and_then(self) -> None:
        while True:
            try:
                if removed := await self.prune():
                    log.info("notifications: %d old deliveries removed from the outbox", removed)
            except Exception:
                log.exception("notifications: pruning the outbox failed")
            await asyncio.sleep(PRUNE_INTERVAL_S)

    async def disk_low(self, free_bytes: int, min_free_bytes: int, *, at: datetime) -> int:
        """Tell the webhooks that take ``disk.low`` that free space fell below the minimum:
        the disk policy's hook. Once per hour at most (the hour is the notification's id)."""
        hour = at.strftime("%Y-%m-%dT%H")
        data: dict[str, Any] = {"free_bytes": free_bytes, "min_free_bytes": min_free_bytes}
        return await self.planner.notify_other(NotifyKind.DISK_LOW, "disk", hour, data)

    def on_disk_low(self, low: DiskLowMoment) -> None:
        """The disk policy's ``on_low`` hook (it must not block): enqueue in the background."""
        job = asyncio.create_task(
            self.disk_low(low.free_bytes, low.min_free_bytes, at=low.at), name="notify-disk-low"
        )
        job.add_done_callback(_log_failure)
        self._tasks = [t for t in self._tasks if not t.done()] + [job]

    async def deliveries(
        self, state: DeliveryState | None = None, limit: int = DEFAULT_NOTIFICATION_PAGE
    ) -> list[tuple[Notification, list[DeliveryAttempt]]]:
        """The outbox, newest first, each notification with its attempts."""
        rows = await self._store.list_notifications(state=state, limit=limit)
        return [(n, await self._store.notification_attempts(n.id)) for n in rows]


def _log_failure(job: asyncio.Task[int]) -> None:
    if not job.cancelled() and job.exception() is not None:
        log.error("notifications: %s failed", job.get_name(), exc_info=job.exception())
