"""The admin page's Operations panel: the runtime, the Codex release, the bridges and their
open chat input, disk use by kind, the pending approvals and the background jobs under way,
read in one bounded pass.

What only the adapters know (a bridge's connection, its queued messages) comes in as small
callables, as :class:`~codex_runner.service.metrics_snapshot.MetricsProbes` does for
``/metrics``; disk use is the same measure the overview and ``/metrics`` show. The log tail
is not here: the page reads it from ``GET /v1/logs``, like the Logs page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from codex_runner.codex.runtime import RuntimeStatus
from codex_runner.domain.approval import Approval
from codex_runner.domain.jobs import ACTIVE_JOB_STATES, Job
from codex_runner.service.metrics_disk import DiskUsage, KindUsage
from codex_runner.service.tasks import TaskService

READ_TIMEOUT_S = 10.0
MAX_JOBS = 50  # the jobs under way the page lists (the API lists them all)


@dataclass(frozen=True)
class ReleaseInUse:
    """The Codex release the runtime runs (``pinned``: the wheel codex-runner ships)."""

    name: str
    version: str


@dataclass(frozen=True)
class PendingApprovals:
    count: int
    oldest: Approval | None  # the one waiting longest


@dataclass(frozen=True)
class OperationsView:
    runtime: RuntimeStatus
    release: ReleaseInUse | None  # None when the daemon keeps no releases
    bridges: Mapping[str, str]  # each running bridge -> its connection state
    chat_input: Mapping[str, int]  # each running bridge -> messages waiting in its queues
    approvals: PendingApprovals
    disk: Mapping[str, KindUsage] = field(default_factory=dict)  # empty until measured
    jobs: Sequence[Job] = ()  # background jobs queued or running, newest first (at most 50)


class OperationsReader:
    """Reads an :class:`OperationsView` of the running daemon."""

    def __init__(
        self,
        service: TaskService,
        *,
        disk: DiskUsage | None = None,
        release: Callable[[], ReleaseInUse | None] = lambda: None,
        bridges: Callable[[], Mapping[str, str]] = dict,
        chat_input: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self._service = service
        self._disk = disk
        self._release = release
        self._bridges = bridges
        self._chat_input = chat_input

    async def read(self) -> OperationsView:
        """Everything now; TimeoutError when the store does not answer in time."""
        async with asyncio.timeout(READ_TIMEOUT_S):
            pending = await self._service.store.list_pending_approvals()
            jobs = await self._service.store.list_jobs(states=ACTIVE_JOB_STATES, limit=MAX_JOBS)
        return OperationsView(
            runtime=self._service.runtime.status(),
            release=self._release(),
            bridges=dict(self._bridges()),
            chat_input=dict(self._chat_input()),
            approvals=PendingApprovals(len(pending), _oldest(pending)),
            disk=dict(self._disk.current()) if self._disk is not None else {},
            jobs=jobs,
        )


def _oldest(pending: list[Approval]) -> Approval | None:
    return min(pending, key=_created, default=None)


def _created(approval: Approval) -> datetime:
    return approval.created_at
