"""How the CLI answers Codex's approval requests: ask on a terminal, else a fixed policy."""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.prompt import Prompt

from codex_runner.codex.approval_policies import fallback_decision, fixed_decision
from codex_runner.codex.runtime import ApprovalHandler
from codex_runner.domain.events import ApprovalRequest

# Codex saves this decision as an execpolicy rule in the team home's rules/, which every
# profile's Codex home links to: it outlives the task and applies everywhere.
PERMANENT_RULE_DECISION = "acceptWithExecpolicyAmendment"
PERMANENT_RULE_NOTE = (
    f"{PERMANENT_RULE_DECISION} also saves a permanent rule that allows such commands "
    "without asking, in every profile (the team home's rules/)"
)


def terminal_prompt(console: Console) -> ApprovalHandler:
    async def ask(request: ApprovalRequest) -> str:
        what = request.command or ", ".join(c.path for c in request.changes) or request.kind
        question = f"Codex wants to run/apply: [bold]{what}[/] (cwd {request.cwd or '?'})"
        choices = list(request.available_decisions)
        if PERMANENT_RULE_DECISION in choices:
            console.print(f"[yellow]note:[/] {PERMANENT_RULE_NOTE}")
        default = fallback_decision(request)  # never an accepting answer by default
        return await asyncio.to_thread(
            Prompt.ask, question, choices=choices, default=default, console=console
        )

    return ask


def approval_handler(policy: str | None, console: Console) -> ApprovalHandler:
    """``--approve`` wins; otherwise ask on a terminal and decline without one."""
    if policy:
        return fixed_decision(policy)
    if sys.stdin.isatty():
        return terminal_prompt(console)
    return fixed_decision("decline")
