"""Whether the daemon is ready for work, as a list of what is not: one reason per failing
check, so ``/readyz`` tells an operator what to look at rather than only "no"."""

from __future__ import annotations

from dataclasses import dataclass

from codex_runner.codex.runtime import RuntimeStatus

READY_STATE = "ready"


@dataclass(frozen=True)
class NotReady:
    """A failing readiness check: ``check`` names it (``store``, ``codex``, ``home``)."""

    check: str
    reason: str


def readiness_problems(
    *, store_open: bool, runtime: RuntimeStatus | None, home_problem: str | None
) -> list[NotReady]:
    """Every failing check, in the order the daemon starts its parts (empty: ready)."""
    problems: list[NotReady] = []
    if not store_open:
        problems.append(NotReady("store", "the store is not open (the daemon is starting)"))
    if runtime is None:
        problems.append(NotReady("codex", "the Codex runtime is not created yet"))
    elif runtime.state != READY_STATE:
        reason = f"the Codex runtime is {runtime.state}, not ready"
        if runtime.last_error:
            reason += f": {runtime.last_error}"
        problems.append(NotReady("codex", reason))
    if home_problem is not None:
        problems.append(NotReady("home", home_problem))
    return problems
