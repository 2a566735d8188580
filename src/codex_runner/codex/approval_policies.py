"""Ready-made approval handlers for unattended use."""

from __future__ import annotations

from codex_runner.codex.runtime import ApprovalHandler
from codex_runner.domain.events import ApprovalRequest


def fallback_decision(request: ApprovalRequest) -> str:
    """The safest offered answer: decline, else cancel, else whatever Codex offered first."""
    for choice in ("decline", "cancel"):
        if choice in request.available_decisions:
            return choice
    return request.available_decisions[0] if request.available_decisions else "decline"


def fixed_decision(decision: str) -> ApprovalHandler:
    """Answer every request with ``decision`` when offered, else the fallback."""

    async def decide(request: ApprovalRequest) -> str:
        if decision in request.available_decisions:
            return decision
        return fallback_decision(request)

    return decide


decline_all = fixed_decision("decline")
