"""The approval desk: Codex requests parked durably until someone decides, once.

Each pending approval has a future its turn waits on. A decision (from any interface) sets
it; an approval left undecided past the timeout is answered with the configured decision
(or the safest one Codex offered); when the turn ends first, its pending approvals expire.
Every outcome is committed before it is published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from codex_runner.codex.approval_policies import fallback_decision
from codex_runner.domain import durable_event
from codex_runner.domain.approval import (
    ANSWERED_ELSEWHERE,
    Approval,
    ApprovalAlreadySettled,
    DecisionNotOffered,
)
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.events import ApprovalRequest
from codex_runner.domain.ids import IdGenerator
from codex_runner.store.protocol import Store

Publish = Callable[[Sequence[TaskEvent]], Awaitable[None]]

# Who decided an approval that a client of the shared app-server answered (Codex does not
# say which client; the Codex TUI is the usual one).
ELSEWHERE_BY = "another Codex client"


class ApprovalDesk:
    def __init__(
        self,
        store: Store,
        publish: Publish,
        *,
        ids: IdGenerator,
        clock: Callable[[], datetime],
        timeout_s: float,
        timeout_decision: str,
    ) -> None:
        self._store = store
        self._publish = publish
        self._ids = ids
        self._clock = clock
        self._timeout_s = timeout_s
        self._timeout_decision = timeout_decision
        self._futures: dict[str, asyncio.Future[str]] = {}
        # Tasks this desk recorded an approval for since their last end_turn: approvals are
        # only ever created here, so a turn that asked for none has none left to expire
        # (what an earlier daemon left behind is expired by restart reconciliation).
        self._asked: set[str] = set()
        # Why a task's approval expired, until its run settles: when the answer ends the
        # turn (Codex 0.163 offers no decline for commands, and cancel interrupts), the
        # task must say it was the timeout, not that someone interrupted it.
        self._expiries: dict[str, str] = {}
        # Codex request id -> the approval parked for it, and the requests another client
        # answered (remembered until their park ends: the answer may come before the park).
        self._parked: dict[str, str] = {}
        self._elsewhere: set[str] = set()

    async def park(
        self,
        task_id: str,
        request: ApprovalRequest,
        on_parked: Callable[[], Awaitable[None]],
        *,
        lease: int | None = None,
    ) -> str:
        """Record the request (only while the task has ``lease``, when given: LeaseLost),
        call ``on_parked``, and wait for its decision (or timeout)."""
        approval = Approval.from_request(
            request, id=self._ids.approval_id(), task_id=task_id, now=self._clock()
        )
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._futures[approval.id] = future
        self._parked[request.id] = approval.id
        self._asked.add(task_id)
        try:
            seq = await self._store.create_approval(approval, lease=lease)
            await self._publish_seq(task_id, seq)
            await on_parked()
            if request.id in self._elsewhere and not future.done():
                future.set_result(ANSWERED_ELSEWHERE)  # answered before it was stored
            try:
                decision = await asyncio.wait_for(asyncio.shield(future), self._timeout_s)
            except TimeoutError:
                return await self._expire(approval, request)
            if decision == ANSWERED_ELSEWHERE:
                await self._record_elsewhere(approval)
            return decision
        finally:
            self._futures.pop(approval.id, None)
            self._parked.pop(request.id, None)
            self._elsewhere.discard(request.id)

    async def _record_elsewhere(self, approval: Approval) -> None:
        try:
            decided = await self._store.decide_approval(
                approval.id, ANSWERED_ELSEWHERE, by=ELSEWHERE_BY, now=self._clock()
            )
        except ApprovalAlreadySettled:
            return  # decided here, or expired, just before: that stands
        await self._publish_outcome(decided, durable_event.EventType.APPROVAL_DECIDED)

    async def decide(self, approval_id: str, decision: str, by: str) -> Approval:
        """Decide a pending approval once; raises the domain errors for a bad decision."""
        if decision == ANSWERED_ELSEWHERE and (
            current := await self._store.get_approval(approval_id)
        ):
            raise DecisionNotOffered(current, decision)  # only Codex can say that
        decided = await self._store.decide_approval(approval_id, decision, by=by, now=self._clock())
        await self._publish_outcome(decided, durable_event.EventType.APPROVAL_DECIDED)
        future = self._futures.get(approval_id)
        if future is not None and not future.done():
            future.set_result(decision)
        return decided

    def waits_here(self, approval_id: str) -> bool:
        """Whether a turn of this process waits for the approval's decision."""
        future = self._futures.get(approval_id)
        return future is not None and not future.done()

    def deliver(self, approval: Approval) -> None:
        """Hand a decision made on another host to the turn here that waits for it."""
        future = self._futures.get(approval.id)
        if approval.decision is not None and future is not None and not future.done():
            future.set_result(approval.decision)

    def answered_elsewhere(self, request: ApprovalRequest) -> None:
        """Another client of the shared app-server answered ``request`` first: its parked
        approval (now, or once ``park`` has stored it) is recorded as answered elsewhere."""
        self._elsewhere.add(request.id)
        approval_id = self._parked.get(request.id)
        future = self._futures.get(approval_id) if approval_id is not None else None
        if future is not None and not future.done():
            future.set_result(ANSWERED_ELSEWHERE)

    async def end_turn(self, task_id: str) -> None:
        """The turn is over: nobody can answer its pending approvals any more."""
        if task_id not in self._asked:
            return
        self._asked.discard(task_id)
        for expired in await self._store.expire_approvals(task_id, now=self._clock()):
            await self._publish_outcome(expired, durable_event.EventType.APPROVAL_EXPIRED)
            future = self._futures.get(expired.id)
            if future is not None and not future.done():
                future.cancel()

    async def _expire(self, approval: Approval, request: ApprovalRequest) -> str:
        expired = await self._store.expire_approvals(approval.task_id, now=self._clock())
        for done in expired:
            await self._publish_outcome(done, durable_event.EventType.APPROVAL_EXPIRED)
        mine = any(a.id == approval.id for a in expired)
        if not mine:
            current = await self._store.get_approval(approval.id)
            if current is not None and current.decision is not None:
                return current.decision  # decided just before it expired
        if self._timeout_decision in request.available_decisions:
            decision = self._timeout_decision
        else:
            decision = fallback_decision(request)
        if mine:
            self._expiries[approval.task_id] = (
                f"approval {approval.id} expired after {self._timeout_s:g}s with no decision "
                f"(answered {decision}); raise [service] approval_timeout_s to wait longer"
            )
        return decision

    def take_expiry(self, task_id: str) -> str | None:
        """Why an approval of the task's turn expired (said once), or None if none did."""
        return self._expiries.pop(task_id, None)

    async def _publish_seq(self, task_id: str, seq: int) -> None:
        await self._publish(await self._store.read_events(task_id, after_seq=seq - 1, limit=1))

    async def publish_expired(self, expired: Sequence[Approval]) -> None:
        """Publish the events of approvals expired outside a turn (restart reconciliation):
        the bus and the task logs learn of them as of every other event."""
        for approval in expired:
            await self._publish_outcome(approval, durable_event.EventType.APPROVAL_EXPIRED)

    async def _publish_outcome(self, approval: Approval, event_type: str) -> None:
        """Publish the event the store wrote for ``approval`` (it does not return its seq)."""
        last = await self._store.last_seq(approval.task_id)
        recent = await self._store.read_events(approval.task_id, after_seq=max(0, last - 50))
        for event in reversed(recent):
            if event.type == event_type and event.data.get("approval_id") == approval.id:
                await self._publish([event])
                return
