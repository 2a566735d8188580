"""The admin page's Operations panel, laid out from the service's view of the daemon
(:mod:`codex_runner.service.operations`); the log tail under it is the browser's, from
``GET /v1/logs``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.service.operations import OperationsView
from codex_runner.web.disk_panel import disk_chart, disk_policy_context

# A person's words for each bridge the daemon may run.
BRIDGE_NAMES = {"slack": "Slack", "link": "Chat server link"}


def operations_context(view: OperationsView, disk_policy: DiskPolicy | None) -> dict[str, Any]:
    """What ``operations.html`` shows of ``view``."""
    runtime = view.runtime
    uptime = time.time() - runtime.started_at if runtime.started_at is not None else None
    oldest = view.approvals.oldest
    names = sorted(set(view.bridges) | set(view.chat_input))
    return {
        "runtime_facts": [
            ("runtime", f"{runtime.kind} · {runtime.state}"),
            ("Codex version", _codex_version(view)),
            ("pid", runtime.pid if runtime.pid is not None else "—"),
            ("uptime", _duration(uptime)),
            ("restarts", runtime.restarts),
            ("last error", runtime.last_error or "none"),
        ],
        "bridges": [
            {
                "key": name,
                "name": BRIDGE_NAMES.get(name, name),
                "state": view.bridges.get(name, "not running"),
                "queued": view.chat_input.get(name, 0),
            }
            for name in names
        ],
        "approvals_count": view.approvals.count,
        "oldest_approval": None
        if oldest is None
        else {
            "task_id": oldest.task_id,
            "kind": oldest.kind.value,
            "what": oldest.command or oldest.reason or "",
            "waited": _duration((datetime.now(UTC) - oldest.created_at).total_seconds()),
        },
        "jobs": [
            {
                "id": job.id,
                "task_id": job.task_id,
                "name": job.name,
                "state": job.state.value,
                "host": job.host_id,
                "running_for": _duration(
                    (datetime.now(UTC) - job.started_at).total_seconds()
                    if job.started_at is not None
                    else None
                ),
            }
            for job in view.jobs
        ],
        "disk_chart": disk_chart(view.disk),
        "disk_partial": [k for k, u in view.disk.items() if not u.complete],
        **disk_policy_context(disk_policy),
    }


def _codex_version(view: OperationsView) -> str:
    reported = view.runtime.codex_version
    release = view.release
    if release is None:
        return reported or "unknown"
    which = "the pinned wheel" if release.name == "pinned" else f"release {release.name}"
    return f"{reported or release.version} ({which})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {s % 3600 // 60}m"
