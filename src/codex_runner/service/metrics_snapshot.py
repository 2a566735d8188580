"""The metrics whose values live elsewhere, read when Prometheus scrapes.

Counts come from the store, pending approvals from the store's approvals, Codex's state,
restarts and rate limits from the runtime's status, memory from ``/proc`` of the app-server's
pid, and what only the adapters know (open event streams, bridges) from small callables
handed in as :class:`MetricsProbes`. :func:`take_snapshot` gathers them (async, bounded);
:class:`SnapshotCollector` turns the latest snapshot into metric families.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from codex_runner.auth.account import NO_ACCOUNT, AccountInfo, RateLimitWindow
from codex_runner.domain.task import TaskState
from codex_runner.service.metrics_disk import KindUsage
from codex_runner.service.tasks import TaskService

SNAPSHOT_TIMEOUT_S = 10.0
PROC = Path("/proc")
# The profile label when Codex runs on one home (no auth profiles, or codex.home pinned).
NO_PROFILE = "default"
READY = "ready"


@dataclass
class MetricsProbes:
    """What the daemon's adapters know, read at each scrape. ``bridges`` maps each running
    bridge (``slack``, ``link``) to its connection state; ``connected`` is the one state that
    counts as up."""

    sse_streams: Callable[[], int] = lambda: 0
    bus_subscribers: Callable[[], int] = lambda: 0
    bridges: Callable[[], Mapping[str, str]] = dict
    auth_profile: Callable[[], str] = lambda: NO_PROFILE


@dataclass(frozen=True)
class RunnerSnapshot:
    tasks_by_state: Mapping[str, int]
    pending_approvals: int
    oldest_approval_age_s: float  # 0 when none is pending
    codex_state: str
    codex_restarts: int
    app_server_rss_bytes: int | None
    profile: str
    rate_limits: tuple[RateLimitWindow, ...]
    sse_streams: int
    bus_subscribers: int
    bridges: Mapping[str, str] = field(default_factory=dict)
    disk: Mapping[str, KindUsage] = field(default_factory=dict)


async def take_snapshot(
    service: TaskService,
    probes: MetricsProbes,
    *,
    proc: Path = PROC,
    disk: Mapping[str, KindUsage] | None = None,
) -> RunnerSnapshot:
    """Read every value now; TimeoutError when the store does not answer in time."""
    async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
        counts = await service.store.count_by_state()
        pending = await service.store.list_pending_approvals()
    status = service.runtime.status()
    now = datetime.now(UTC)
    oldest = min((a.created_at for a in pending), default=None)
    return RunnerSnapshot(
        tasks_by_state={state.value: counts.get(state, 0) for state in TaskState},
        pending_approvals=len(pending),
        oldest_approval_age_s=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        codex_state=status.state,
        codex_restarts=status.restarts,
        app_server_rss_bytes=resident_bytes(status.pid, proc) if status.pid else None,
        profile=probes.auth_profile(),
        rate_limits=rate_limit_windows(status.rate_limits),
        sse_streams=probes.sse_streams(),
        bus_subscribers=probes.bus_subscribers(),
        bridges=dict(probes.bridges()),
        disk=dict(disk or {}),
    )


def rate_limit_windows(snapshot: dict[str, Any] | None) -> tuple[RateLimitWindow, ...]:
    """The windows of Codex's last rate-limit report (empty before the first one)."""
    if not snapshot:
        return ()
    # One parser for Codex's rateLimits object: the account's.
    return AccountInfo(NO_ACCOUNT, False).with_rate_limits({"rateLimits": snapshot}).rate_limits


def resident_bytes(pid: int, proc: Path = PROC) -> int | None:
    """The resident memory of process ``pid`` (VmRSS), None when it is gone or unreadable."""
    try:
        text = (proc / str(pid) / "status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024  # the kernel reports kB
    return None


class SnapshotCollector(Collector):
    """The families of the latest :class:`RunnerSnapshot` (none before the first)."""

    def __init__(self) -> None:
        self.snapshot: RunnerSnapshot | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        if snap is None:
            return
        tasks = GaugeMetricFamily("codex_runner_tasks", "Tasks in each state.", labels=["state"])
        for state, count in snap.tasks_by_state.items():
            tasks.add_metric([state], count)
        yield tasks
        yield GaugeMetricFamily(
            "codex_runner_pending_approvals",
            "Approvals waiting for a decision.",
            value=snap.pending_approvals,
        )
        yield GaugeMetricFamily(
            "codex_runner_oldest_pending_approval_age_seconds",
            "How long the oldest pending approval has waited (0 when none waits).",
            value=snap.oldest_approval_age_s,
        )
        up = GaugeMetricFamily(
            "codex_runner_codex_up", "1 when the Codex runtime is ready.", labels=["state"]
        )
        up.add_metric([snap.codex_state], 1.0 if snap.codex_state == READY else 0.0)
        yield up
        yield CounterMetricFamily(
            "codex_runner_codex_restarts",
            "Times the runner restarted Codex since the daemon started.",
            value=snap.codex_restarts,
        )
        if snap.app_server_rss_bytes is not None:
            yield GaugeMetricFamily(
                "codex_runner_app_server_resident_memory_bytes",
                "Resident memory of the Codex app-server process.",
                value=snap.app_server_rss_bytes,
            )
        yield from _rate_limits(snap)
        yield from _disk(snap)
        yield GaugeMetricFamily(
            "codex_runner_event_streams",
            "Open server-sent event streams (API and admin page).",
            value=snap.sse_streams,
        )
        yield GaugeMetricFamily(
            "codex_runner_event_bus_subscribers",
            "Live subscriptions to the event bus (streams, bridges, metrics).",
            value=snap.bus_subscribers,
        )
        bridges = GaugeMetricFamily(
            "codex_runner_bridge_connected",
            "1 when a running bridge is connected to its chat, by bridge and state.",
            labels=["bridge", "state"],
        )
        for bridge, state in sorted(snap.bridges.items()):
            bridges.add_metric([bridge, state], 1.0 if state == "connected" else 0.0)
        yield bridges


def _disk(snap: RunnerSnapshot) -> Iterator[Metric]:
    if not snap.disk:
        return  # not measured yet (the first walk runs after the first scrape)
    size = GaugeMetricFamily(
        "codex_runner_disk_bytes", "Bytes the runner's files take, by kind.", labels=["kind"]
    )
    files = GaugeMetricFamily(
        "codex_runner_disk_files", "Files the runner keeps, by kind.", labels=["kind"]
    )
    complete = GaugeMetricFamily(
        "codex_runner_disk_measure_complete",
        "1 when the last walk of the kind's folders counted everything (0: stopped early).",
        labels=["kind"],
    )
    for kind, usage in sorted(snap.disk.items()):
        size.add_metric([kind], usage.bytes)
        files.add_metric([kind], usage.files)
        complete.add_metric([kind], 1.0 if usage.complete else 0.0)
    yield size
    yield files
    yield complete


def _rate_limits(snap: RunnerSnapshot) -> Iterator[Metric]:
    used = GaugeMetricFamily(
        "codex_runner_rate_limit_used_percent",
        "Codex's last reported use of its rate-limit window, by auth profile and window.",
        labels=["profile", "window"],
    )
    resets = GaugeMetricFamily(
        "codex_runner_rate_limit_resets_at_seconds",
        "When the rate-limit window resets (unix seconds), by auth profile and window.",
        labels=["profile", "window"],
    )
    minutes = GaugeMetricFamily(
        "codex_runner_rate_limit_window_minutes",
        "The length of the rate-limit window, by auth profile and window.",
        labels=["profile", "window"],
    )
    for window in snap.rate_limits:
        labels = [snap.profile, window.name]
        used.add_metric(labels, window.used_percent)
        if window.resets_at is not None:
            resets.add_metric(labels, window.resets_at)
        if window.window_minutes is not None:
            minutes.add_metric(labels, window.window_minutes)
    yield used
    yield resets
    yield minutes
