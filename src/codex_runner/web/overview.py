"""The admin page's overview: the charts of one window, drawn from the service's figures
(:mod:`codex_runner.service.overview`); this module only lays them out."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from codex_runner.service.overview import MAX_TASKS, Overview, OverviewWindow
from codex_runner.web import overview_charts as charts
from codex_runner.web.disk_panel import disk_chart


def overview_context(overview: Overview) -> dict[str, Any]:
    """What ``overview.html`` shows for ``overview``."""
    week = overview.window is OverviewWindow.WEEK
    hour_labels = [h.strftime("%a %H:00" if week else "%H:00") for h in overview.hours]
    bucket_labels = [b.strftime("%a %H:00" if week else "%H:00") for b in overview.buckets]
    day_labels = [d.strftime("%a %d %b") for d in overview.days]
    # Roughly eight labels per axis, whatever the window.
    hour_every = max(1, len(hour_labels) // 8)
    bucket_every = max(1, len(bucket_labels) // 8)
    return {
        "window": overview.window.value,
        "windows": [w.value for w in OverviewWindow],
        "since": overview.since.strftime("%Y-%m-%d %H:%M UTC"),
        "until": overview.until.strftime("%Y-%m-%d %H:%M UTC"),
        "tasks_read": overview.tasks_read,
        "turns_read": overview.turns_read,
        "capped": overview.capped,
        "max_tasks": MAX_TASKS,
        "finished_total": {k: sum(v) for k, v in overview.finished.items()},
        "finished_chart": charts.stacked_bars(
            "Tasks finished per hour by outcome",
            hour_labels,
            overview.finished,
            label_every=hour_every,
        ),
        "queue_wait_samples": overview.queue_wait.samples,
        "queue_wait_chart": charts.lines(
            "Queue wait (p50, p95)",
            bucket_labels,
            {"p50": overview.queue_wait.p50, "p95": overview.queue_wait.p95},
            label_every=bucket_every,
        ),
        "turn_samples": overview.turn_duration.samples,
        "turn_chart": charts.lines(
            "Turn duration (p50, p95)",
            bucket_labels,
            {"p50": overview.turn_duration.p50, "p95": overview.turn_duration.p95},
            label_every=bucket_every,
        ),
        "has_tokens": bool(overview.tokens),
        "tokens_chart": charts.stacked_bars("Tokens per day by model", day_labels, overview.tokens),
        "rate_limit_chart": _rate_limits(overview),
        "disk_chart": disk_chart(overview.disk),
        "disk_partial": [k for k, u in overview.disk.items() if not u.complete],
    }


def _rate_limits(overview: Overview) -> Markup | None:
    if not overview.rate_limits:
        return None
    used = {
        f"{w.name} ({_window_name(w.window_minutes)})": w.used_percent for w in overview.rate_limits
    }
    return charts.meters("Rate-limit use by window", used)


def _window_name(minutes: int | None) -> str:
    if minutes is None:
        return "window"
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"
