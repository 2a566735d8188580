"""The disk policy's line under the overview's disk bars: free space on the home's file
system at the last check, and whether the policy removes or only reports (docs/disk.md)."""

from __future__ import annotations

from typing import Any

from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.web.overview_charts import size


def disk_policy_context(policy: DiskPolicy | None) -> dict[str, Any]:
    """What ``overview.html`` says of the disk policy (nothing before its first check)."""
    last = policy.last if policy is not None else None
    if policy is None or last is None:
        return {"disk_free": None}
    settings = policy.settings
    return {
        "disk_free": size(last.free_bytes),
        "disk_low": last.low,
        "disk_min": size(settings.min_free_bytes),
        "disk_target": size(settings.target_free_bytes),
        "disk_dry_run": settings.dry_run,
        "disk_candidates": len(last.candidates),
    }
