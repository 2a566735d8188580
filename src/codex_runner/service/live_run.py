"""One task's live run, as the scheduler and the runner hand it between them.

The scheduler makes a :class:`LiveRun` for each run it starts and is the only one that asks
it to stop; the runner is the only one that records its Codex turn and how the run leaves
the task's crash history. Nothing else is shared between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from codex_runner.codex.runtime import Turn
from codex_runner.domain.transitions import Action


@dataclass(frozen=True)
class CrashHistory:
    """What the scheduler remembers of a task's crashes between its runs.

    A suspect is a task whose turn died with Codex while other turns ran too: any of them
    may have crashed it. Suspects run one at a time, so a crash while one of them runs is
    charged to that one (``crashes``); its turn ending any other way clears it.
    """

    suspect: bool = False
    crashes: int = 0  # crashes charged to the task while it ran as the one suspect


class LiveRun:
    """A run the scheduler started: its stop request, its Codex turn, its crash history."""

    def __init__(self, task_id: str, history: CrashHistory) -> None:
        self.task_id = task_id
        self.history = history  # as the run started
        # Set by the scheduler. An interrupt or cancel asked of the run, honoured even when
        # it lands before the Codex turn exists; why, when not a person's request (the home
        # became unavailable); what a turn interrupted by the scheduler's shutdown says.
        self.stop_action: Action | None = None
        self.stop_reason: str | None = None
        self.shutdown_reason: str | None = None
        # Set by the runner. The live Codex turn (interrupted by the scheduler, steered by the
        # service), and the crash history the task keeps when the run re-queued it (after a
        # crash or a failover); a run that did not re-queue its task leaves none behind.
        self.turn: Turn | None = None
        self.requeued: CrashHistory | None = None

    @property
    def stop_requested(self) -> bool:
        return self.stop_action is not None

    def stop_request_reason(self) -> str:
        """What the task says when the run honours its stop request."""
        if self.stop_reason is not None:
            return self.stop_reason
        if self.stop_action is Action.CANCEL:
            return "cancelled by request"
        return "interrupted by request"

    async def request_stop(self, action: Action) -> None:
        """Ask the run to interrupt or cancel: its live turn at once, a turn not started yet
        when the runner gets to it."""
        self.stop_action = action
        if self.turn is not None:
            await self.turn.interrupt()

    def interrupt_reason(self, expiry: str | None) -> str:
        """Why the run's turn ended interrupted: a stop asked of it, else an approval that
        expired (its answer ended the turn), else the scheduler shutting down."""
        if self.stop_reason is not None:
            return self.stop_reason
        if self.stop_requested:
            return "interrupted by request"
        if expiry is not None:
            return expiry
        return self.shutdown_reason or "interrupted by request"
