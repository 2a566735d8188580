"""Daemon routes: liveness, readiness, status, and worktree garbage collection."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.responses import Response

from codex_runner.domain.task import TaskState
from codex_runner.http.errors import ERROR_RESPONSES, error_response
from codex_runner.http.routing import Router, model_response
from codex_runner.http.wire import (
    ErrorOut,
    GcBody,
    GcOut,
    HealthOut,
    RemovedWorktreeOut,
    RuntimeOut,
    StatusOut,
)
from codex_runner.http.wire_link import LinkOut
from codex_runner.http.wire_tasks import TaskOut
from codex_runner.service.tasks import TaskService

NOT_READY_MESSAGE = "not ready: the store is not open or the Codex runtime is not initialized yet"


def runtime_routes(
    service: TaskService,
    *,
    ready: Callable[[], bool],
    gc_retention_s: float,
    version: str,
    home_problem: Callable[[], str | None] = lambda: None,
    link_status: Callable[[], LinkOut | None] = lambda: None,
) -> Router:
    router = Router(tags=["daemon"], responses=ERROR_RESPONSES)

    @router.get("/healthz")
    async def healthz() -> HealthOut:
        """The process answers (no token needed)."""
        return HealthOut(ok=True)

    @router.get(
        "/readyz",
        response=HealthOut,
        responses={503: {"model": ErrorOut, "description": "Not ready."}},
    )
    async def readyz() -> Response:
        """200 once the store is open and the Codex runtime initialized and while the
        runner's home is sound; else 503 saying why."""
        problem = home_problem()
        if problem is not None:
            return error_response(503, "home_unavailable", problem)
        if not ready():
            return error_response(503, "not_ready", NOT_READY_MESSAGE)
        return model_response(HealthOut(ok=True))

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
        """Remove worktrees of tasks finished longer ago than the retention."""
        body = body or GcBody()
        retention = body.retention_s if body.retention_s is not None else gc_retention_s
        report = await service.gc(retention, force=body.force)
        return GcOut(
            removed=[w.task_id for w in report.removed],
            removed_worktrees=[
                RemovedWorktreeOut(task_id=w.task_id, path=str(w.path), branch=w.branch)
                for w in report.removed
            ],
            kept=[
                {"task_id": k.workspace.task_id, "reason": str(k.reason), "detail": k.detail}
                for k in report.kept
            ],
        )

    return router
