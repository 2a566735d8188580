"""Approval routes: list the pending ones, read one, decide one."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router
from codex_runner.http.wire import ApprovalList, ApprovalOut, DecisionBody
from codex_runner.service.tasks import TaskService

DEFAULT_DECIDER = "api"


def approval_routes(service: TaskService) -> Router:
    router = Router(prefix="/v1/approvals", tags=["approvals"], responses=ERROR_RESPONSES)

    @router.get("")
    async def list_approvals(
        state: Annotated[
            Literal["pending"], Field(description="Only pending approvals can be listed.")
        ] = "pending",
        task_id: str | None = None,
    ) -> ApprovalList:
        approvals = await service.pending_approvals(task_id)
        return ApprovalList(approvals=[ApprovalOut.of(a) for a in approvals])

    @router.get("/{approval_id}")
    async def get_approval(approval_id: str) -> ApprovalOut:
        return ApprovalOut.of(await service.approval(approval_id))

    @router.post("/{approval_id}")
    async def decide_approval(approval_id: str, body: DecisionBody) -> ApprovalOut:
        """Decide once, with one of the decisions the approval offers."""
        decided = await service.decide_approval(
            approval_id, body.decision, body.by or DEFAULT_DECIDER
        )
        return ApprovalOut.of(decided)

    return router
