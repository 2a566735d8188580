"""The metrics' parts that read the machine or remember per task: /proc memory, Codex's
rate-limit report, and the bound on what the event metrics remember."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.task import Task
from codex_runner.service import metrics_events
from codex_runner.service.metrics_disk import KindUsage
from codex_runner.service.metrics_events import EventMetrics
from codex_runner.service.metrics_snapshot import (
    RunnerSnapshot,
    SnapshotCollector,
    rate_limit_windows,
    resident_bytes,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_resident_memory_is_read_from_proc_in_bytes(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text("Name:\tcodex\nVmRSS:\t  2048 kB\nThreads:\t9\n")
    assert resident_bytes(42, tmp_path) == 2048 * 1024
    assert resident_bytes(43, tmp_path) is None  # gone


def test_rate_limit_windows_parse_codexs_report() -> None:
    windows = rate_limit_windows(
        {"primary": {"usedPercent": 12, "windowDurationMins": 300}, "secondary": None}
    )
    assert [(w.name, w.used_percent, w.window_minutes) for w in windows] == [("primary", 12, 300)]
    assert rate_limit_windows(None) == ()


def _event(task_id: str, type: str, at: datetime, **data: object) -> TaskEvent:
    return TaskEvent(task_id, 1, type, at, dict(data))


async def _no_task(task_id: str) -> Task | None:
    return None


async def test_queue_waits_are_measured_from_creation_and_forgotten_past_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics_events, "MAX_TRACKED_TASKS", 2)
    registry = CollectorRegistry()
    metrics = EventMetrics(registry, task_lookup=_no_task)
    for name in ("a", "b", "c"):  # "a" is forgotten when "c" arrives
        await metrics.observe(_event(name, "task.created", T0))
    for name in ("a", "b", "c"):
        await metrics.observe(
            _event(name, "task.state_changed", T0 + timedelta(seconds=3), to="running")
        )
    assert registry.get_sample_value("codex_runner_queue_wait_seconds_count") == 2
    assert registry.get_sample_value("codex_runner_queue_wait_seconds_sum") == 6


async def test_token_usage_counts_only_what_grew_within_a_turn() -> None:
    registry = CollectorRegistry()
    metrics = EventMetrics(registry, task_lookup=_no_task)
    await metrics.observe(_event("t", "task.created", T0, settings={"model": "gpt-x"}))
    await metrics.observe(_event("t", "codex.turn.started", T0))
    for total in (10, 25):
        await metrics.observe(
            _event("t", "codex.token_usage.updated", T0, usage={"input_tokens": total})
        )
    await metrics.observe(_event("t", "codex.turn.completed", T0 + timedelta(seconds=4)))
    labels = {"model": "gpt-x", "kind": "input"}
    assert registry.get_sample_value("codex_runner_tokens_total", labels) == 25
    assert (
        registry.get_sample_value(
            "codex_runner_turn_duration_seconds_sum", {"outcome": "completed"}
        )
        == 4
    )


def test_disk_use_is_served_by_kind_once_measured() -> None:
    collector = SnapshotCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    snapshot = RunnerSnapshot(
        tasks_by_state={},
        pending_approvals=0,
        oldest_approval_age_s=0.0,
        codex_state="ready",
        codex_restarts=0,
        app_server_rss_bytes=None,
        profile="default",
        rate_limits=(),
        sse_streams=0,
        bus_subscribers=0,
    )
    collector.snapshot = snapshot
    assert registry.get_sample_value("codex_runner_disk_bytes", {"kind": "logs"}) is None
    collector.snapshot = replace(
        snapshot, disk={"logs": KindUsage(2048, 3), "worktrees": KindUsage(9, 1, False)}
    )
    assert registry.get_sample_value("codex_runner_disk_bytes", {"kind": "logs"}) == 2048
    assert registry.get_sample_value("codex_runner_disk_files", {"kind": "logs"}) == 3
    complete = registry.get_sample_value(
        "codex_runner_disk_measure_complete", {"kind": "worktrees"}
    )
    assert complete == 0
