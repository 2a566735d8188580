"""The runner's Prometheus metrics: one registry, fed two ways.

Counters and histograms (:mod:`~codex_runner.service.metrics_events`) follow the committed
events on the EventBus from :meth:`RunnerMetrics.start` on; gauges whose values live
elsewhere (:mod:`~codex_runner.service.metrics_snapshot`) are read at each scrape, disk use
(:mod:`~codex_runner.service.metrics_disk`) from a walk kept a few minutes.
:meth:`RunnerMetrics.render` gives the text a scraper reads (docs/metrics.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from codex_runner.service.event_bus import EventBus, Lagged, Subscription
from codex_runner.service.metrics_disk import DiskUsage
from codex_runner.service.metrics_events import EventMetrics
from codex_runner.service.metrics_snapshot import (
    PROC,
    MetricsProbes,
    SnapshotCollector,
    take_snapshot,
)
from codex_runner.service.tasks import TaskService

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
STOP_TIMEOUT_S = 5.0


class RunnerMetrics:
    """Owns the registry and the task that observes the event bus (start, then stop)."""

    def __init__(
        self,
        service: TaskService,
        bus: EventBus,
        probes: MetricsProbes | None = None,
        *,
        disk: DiskUsage | None = None,
    ) -> None:
        self._service = service
        self._disk = disk
        self._bus = bus
        self.probes = probes or MetricsProbes(bus_subscribers=bus.subscriber_count)
        self.registry = CollectorRegistry(auto_describe=False)
        self.events = EventMetrics(self.registry, task_lookup=service.store.get_task)
        self._snapshot = SnapshotCollector()
        self.registry.register(self._snapshot)
        self._observer: asyncio.Task[None] | None = None

    @property
    def disk(self) -> DiskUsage | None:
        """The disk use measure, shared with the admin page's overview."""
        return self._disk

    def start(self) -> None:
        """Follow the bus from now on (the subscription is taken before this returns, so an
        event published right after is counted)."""
        if self._observer is None:
            subscription = self._bus.subscribe(None)
            self._observer = asyncio.create_task(
                self._observe(subscription), name="metrics-observer"
            )

    async def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(observer, STOP_TIMEOUT_S)
        if self._disk is not None:
            await self._disk.close()

    async def render(self) -> bytes:
        """The Prometheus text exposition of every metric, gauges read now."""
        disk = self._disk.current() if self._disk is not None else None
        snapshot = await take_snapshot(self._service, self.probes, proc=PROC, disk=disk)
        # No await between setting the snapshot and reading it: a concurrent scrape cannot
        # slip its own in between.
        self._snapshot.snapshot = snapshot
        return generate_latest(self.registry)

    async def _observe(self, subscription: Subscription) -> None:
        try:
            while True:
                try:
                    async for event in subscription:
                        try:
                            await self.events.observe(event)
                        except Exception:  # one odd event must not end the metrics
                            log.exception("metrics: could not observe event %s", event.type)
                    return
                except Lagged:
                    # Fell behind: what was skipped is not counted; go on from now.
                    self.events.missed.inc()
                    log.warning("metrics fell behind the event bus; some events not counted")
                    subscription = self._bus.subscribe(None)
        finally:
            subscription.close()
