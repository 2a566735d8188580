"""``GET /v1/disk`` (bytes and files per kind, free space, the policy) and
``POST /v1/disk/check`` (run the policy's check now); behind the bearer token."""

from __future__ import annotations

from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router
from codex_runner.http.wire_disk import (
    DiskCandidateOut,
    DiskCheckOut,
    DiskKindOut,
    DiskOut,
    DiskPolicyOut,
)
from codex_runner.service.disk_account import DiskAccount, DiskReport
from codex_runner.service.disk_policy import DiskCheck


def disk_router(account: DiskAccount) -> Router:
    router = Router(prefix="/v1", tags=["daemon"], responses=ERROR_RESPONSES)

    @router.get("/disk")
    async def disk() -> DiskOut:
        """What the runner's files take, by kind, and free space on its home's file system."""
        return disk_out(await account.report())

    @router.post("/disk/check")
    async def check() -> DiskCheckOut:
        """Check free space now; below the minimum the policy reclaims (dry-run: reports)."""
        return check_out(await account.policy.check())

    return router


def disk_out(report: DiskReport) -> DiskOut:
    s = report.settings
    return DiskOut(
        kinds=[
            DiskKindOut(kind=k, bytes=u.bytes, files=u.files, complete=u.complete)
            for k, u in report.kinds.items()
        ],
        total_bytes=report.total_bytes,
        free_bytes=report.free_bytes,
        policy=DiskPolicyOut(
            dry_run=s.dry_run,
            min_free_bytes=s.min_free_bytes,
            target_free_bytes=s.target_free_bytes,
            old_log_s=s.old_log_s,
            inactive_session_s=s.inactive_session_s,
            protection_s=s.protection_s,
            check_interval_s=s.check_interval_s,
        ),
        last_check=check_out(report.last_check) if report.last_check is not None else None,
    )


def check_out(check: DiskCheck) -> DiskCheckOut:
    return DiskCheckOut(
        at=check.at,
        free_bytes=check.free_bytes,
        free_after=check.free_after,
        low=check.low,
        dry_run=check.dry_run,
        candidates=[
            DiskCandidateOut(
                rule=c.rule,
                path=str(c.path),
                bytes=c.bytes,
                outcome=c.outcome,
                task_id=c.task_id,
                detail=c.detail,
            )
            for c in check.candidates
        ],
    )
