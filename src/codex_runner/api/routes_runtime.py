"""Daemon routes: liveness, readiness, status, and worktree garbage collection."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.responses import Response

from codex_runner.domain.task import TaskState
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router, model_response
from codex_runner.http.wire import (
    ErrorDetail,
    GcBody,
    GcOut,
    HealthOut,
    RemovedWorktreeOut,
    RuntimeOut,
    StatusOut,
)
from codex_runner.http.wire_health import NotReadyCheckOut, NotReadyOut
from codex_runner.http.wire_link import LinkOut
from codex_runner.http.wire_tasks import TaskOut
from codex_runner.service.readiness import NotReady
from codex_runner.service.tasks import TaskService

HOME_CHECK = "home"
NOT_READY_MESSAGE = "not ready: the store is not open or the Codex runtime is not initialized yet"


def runtime_routes(
    service: TaskService,
    *,
    ready: Callable[[], bool],
    gc_retention_s: float,
    version: str,
    home_problem: Callable[[], str | None] = lambda: None,
    link_status: Callable[[], LinkOut | None] = lambda: None,
    readiness: Callable[[], Sequence[NotReady]] = lambda: (),
) -> Router:
    router = Router(tags=["daemon"], responses=ERROR_RESPONSES)

    @router.get("/healthz")
    async def healthz() -> HealthOut:
        """The process answers (no token needed)."""
        return HealthOut(ok=True)

    @router.get(
        "/readyz",
        response=HealthOut,
        responses={503: {"model": NotReadyOut, "description": "Not ready: one reason each."}},
    )
    async def readyz() -> Response:
        """200 once the store is open and the Codex runtime initialized and while the
        runner's home is sound; else 503 with one reason per failing check."""
        problems = list(readiness())
        home = home_problem()
        if home is not None and not any(p.check == HOME_CHECK for p in problems):
            problems.append(NotReady(HOME_CHECK, home))
        if not problems and not ready():
            problems.append(NotReady("daemon", NOT_READY_MESSAGE))
        if not problems:
            return model_response(HealthOut(ok=True))
        # A home gone wrong keeps its own code: clients already tell it from a slow start.
        code = "home_unavailable" if any(p.check == HOME_CHECK for p in problems) else "not_ready"
        body = NotReadyOut(
            error=ErrorDetail(code=code, message="; ".join(p.reason for p in problems)),
            not_ready=[NotReadyCheckOut(check=p.check, reason=p.reason) for p in problems],
        )
        return model_response(body, 503)

    @router.get("/v1/status")
    async def status() -> StatusOut:
        current = await service.status()
        counts = {state.value: 0 for state in TaskState}
        counts.update({state.value: n for state, n in current.counts.items()})
        return StatusOut(
            runtime=RuntimeOut.of(current.runtime, time.time()),
            counts=counts,
            active=[TaskOut.of(t) for t in current.active],
            max_concurrent=current.max_concurrent,
            version=version,
            link=link_status(),
        )

    @router.post("/v1/gc")
    async def gc(body: GcBody | None = None) -> GcOut:
        """Remove worktrees of tasks finished longer ago than the retention (``dry_run``:
        list them with their bytes, removing nothing)."""
        body = body or GcBody()
        retention = body.retention_s if body.retention_s is not None else gc_retention_s
        report = await service.gc(retention, force=body.force, dry_run=body.dry_run)
        return GcOut(
            dry_run=report.dry_run,
            removed=[w.task_id for w in report.removed],
            removed_worktrees=[
                RemovedWorktreeOut(
                    task_id=w.task_id,
                    path=str(w.path),
                    branch=w.branch,
                    bytes=report.bytes.get(w.task_id),
                )
                for w in report.removed
            ],
            kept=[
                {"task_id": k.workspace.task_id, "reason": str(k.reason), "detail": k.detail}
                for k in report.kept
            ],
        )

    return router
