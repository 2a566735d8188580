"""The disk routes over a pretend 1 MiB disk holding only ``root``, for the live daemon the
CLI tests talk to."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from codex_runner.api.routes_disk import disk_router
from codex_runner.config import DiskSettings
from codex_runner.http.routing import Router
from codex_runner.service.disk_account import DiskAccount
from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.service.disk_space import DiskOfSize
from codex_runner.service.metrics_disk import DiskUsage
from codex_runner.service.tasks import TaskService

DISK_BYTES = 1024**2


def disk_routes(service: TaskService, home: Path, worktrees: Path) -> list[Router]:
    policy = DiskPolicy(
        DiskSettings(min_free_bytes=0, target_free_bytes=0),
        home=home,
        store=service.store,
        worktrees=service.worktree_gc,
        free_space=DiskOfSize(worktrees, size_bytes=DISK_BYTES),
        clock=lambda: datetime.now(UTC),
    )
    usage = DiskUsage({"worktrees": (worktrees,)})
    return [disk_router(DiskAccount(usage, policy))]
