"""The disk accounting a person reads (``codex-runner disk``, ``GET /v1/disk``): bytes and
files per kind, free space on the home's file system, and the policy's settings and last
check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from codex_runner.config.disk import DiskSettings
from codex_runner.service.disk_kinds import KINDS
from codex_runner.service.disk_policy import DiskCheck, DiskPolicy
from codex_runner.service.metrics_disk import DiskUsage, KindUsage

# A person asks after changing something: measure anew (sharing a walk under way).
FRESH_S = 0.0


@dataclass(frozen=True)
class DiskReport:
    kinds: Mapping[str, KindUsage]  # in the order of disk_kinds.KINDS, then any other
    free_bytes: int
    settings: DiskSettings
    last_check: DiskCheck | None

    @property
    def total_bytes(self) -> int:
        return sum(u.bytes for u in self.kinds.values())


class DiskAccount:
    """One report from the daemon's shared measure and its policy."""

    def __init__(self, usage: DiskUsage, policy: DiskPolicy) -> None:
        self.usage = usage
        self.policy = policy

    async def report(self, *, fresh_s: float = FRESH_S) -> DiskReport:
        measured = await self.usage.fresh(fresh_s)
        ordered = {k: measured[k] for k in KINDS if k in measured}
        ordered.update({k: u for k, u in sorted(measured.items()) if k not in ordered})
        return DiskReport(
            kinds=ordered,
            free_bytes=await self.policy.free_bytes(),
            settings=self.policy.settings,
            last_check=self.policy.last,
        )
