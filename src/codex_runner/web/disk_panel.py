"""The disk bars (bytes by kind) and the disk policy's line under them: free space on the
home's file system at the last check, and whether the policy removes or only reports
(docs/disk.md). The overview and the Operations page show both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.service.metrics_disk import KindUsage
from codex_runner.web.overview_charts import meters, size


def disk_chart(disk: Mapping[str, KindUsage]) -> Markup | None:
    """Bars of the bytes each kind takes, the largest full width (None before a measure)."""
    if not disk:
        return None
    sizes = {kind: float(usage.bytes) for kind, usage in sorted(disk.items())}
    top = max(sizes.values(), default=0.0) or 1.0
    return meters("Disk use by kind", sizes, limit=top, fmt=size)


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
