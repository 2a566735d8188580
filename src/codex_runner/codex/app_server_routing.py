"""Which turn a message from a shared app-server belongs to.

The runtime allows one active turn per thread, so every notification and server request
that names a thread belongs to that thread's active turn. On a shared app-server, another
client (a person in the Codex TUI, a tool) may start a turn on a thread the runner has
loaded: it is followed like one of the runner's own, and the runtime is told of it. A
request that another client answers first is never answered again here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from codex_runner.codex import app_server_events as wire
from codex_runner.codex.app_server_turn import AppServerTurn, TurnChannel
from codex_runner.codex.approval_policies import fallback_decision
from codex_runner.codex.errors import CodexError
from codex_runner.codex.jsonrpc import SERVER_REQUEST_ID
from codex_runner.domain.events import ApprovalRequest

log = logging.getLogger(__name__)

MAX_EARLY_RESOLUTIONS = 1024  # resolutions kept for requests not handled yet

# The loaded thread's channel when a turn may be adopted on it, else None.
AdoptableThread = Callable[[str], TurnChannel | None]


async def leave_to_its_client(request: ApprovalRequest) -> str:
    """The approvals of a turn another client started, until its task's handler is known:
    that client answers them (the runner is told by ``serverRequest/resolved``)."""
    await asyncio.Event().wait()  # ended by the answer elsewhere, an interrupt or a restart
    raise AssertionError("unreachable")  # pragma: no cover


class TurnRoutes:
    def __init__(
        self,
        *,
        request_timeout_s: float,
        warn: Callable[[str], None],
        rate_limits: Callable[[dict[str, Any]], None] = lambda _limits: None,
    ) -> None:
        self._request_timeout_s = request_timeout_s
        self._warn = warn
        self._rate_limits = rate_limits
        self.active: dict[str, AppServerTurn] = {}
        # Server requests waiting for an answer: Codex's request id -> (turn, approval id),
        # so that ``serverRequest/resolved`` from another client can stand the runner down.
        self._server_requests: dict[str, tuple[AppServerTurn, str]] = {}
        self._resolved_early: OrderedDict[str, None] = OrderedDict()
        # Told of each turn another client starts on a thread the runner has loaded.
        self.on_turn_started_elsewhere: Callable[[AppServerTurn], None] | None = None

    def live(self, thread_id: object) -> AppServerTurn | None:
        """The running turn on ``thread_id``; a turn that ended is dropped from the map."""
        turn = self.active.get(thread_id) if isinstance(thread_id, str) else None
        if turn is not None and turn.done:
            del self.active[turn.thread_id]
            return None
        return turn

    def running(self) -> list[AppServerTurn]:
        return [turn for turn in self.active.values() if not turn.done]

    def take_all(self) -> list[AppServerTurn]:
        """Every tracked turn, forgotten here (the caller ends them)."""
        turns = list(self.active.values())
        self.active.clear()
        return turns

    # incoming ----------------------------------------------------------------------------
    def route(self, method: str, params: dict[str, Any], adoptable: AdoptableThread) -> None:
        if method == "serverRequest/resolved":
            self._resolved_elsewhere(params)
            return
        if method == "account/rateLimits/updated" and isinstance(params.get("rateLimits"), dict):
            self._rate_limits(params["rateLimits"])
            return
        turn = self.live(params.get("threadId"))
        if turn is None and method == "turn/started":
            turn = self._adopt(params, adoptable)
        if turn is not None:
            turn.on_notification(method, params)
        elif method in ("warning", "configWarning", "deprecationNotice"):
            self._warn(str(params.get("message") or params.get("summary") or params))

    def _adopt(self, params: dict[str, Any], adoptable: AdoptableThread) -> AppServerTurn | None:
        """A turn another client started on a thread the runner has loaded (only such
        threads' notifications reach the runner): follow it like one of its own."""
        thread_id = params.get("threadId")
        channel = adoptable(thread_id) if isinstance(thread_id, str) else None
        if channel is None:
            return None
        assert isinstance(thread_id, str)
        turn = AppServerTurn(
            channel,
            thread_id,
            approvals=leave_to_its_client,
            request_timeout_s=self._request_timeout_s,
            started_elsewhere=True,
        )
        self.active[thread_id] = turn
        if self.on_turn_started_elsewhere is not None:
            try:
                self.on_turn_started_elsewhere(turn)
            except Exception:
                log.exception("recording a turn started elsewhere on %s failed", thread_id)
        return turn

    def _resolved_elsewhere(self, params: dict[str, Any]) -> None:
        # Codex tells every client when a request is resolved, the one that answered too:
        # by then the runner's own answer has removed the entry.
        key = str(params.get("requestId"))
        entry = self._server_requests.pop(key, None)
        if entry is not None:
            turn, approval_id = entry
            turn.answered_elsewhere(approval_id)
            return
        # The request itself may not be handled yet (its task has not run: both messages
        # came in one read); remember the answer for it, boundedly.
        self._resolved_early[key] = None
        while len(self._resolved_early) > MAX_EARLY_RESOLUTIONS:
            self._resolved_early.popitem(last=False)

    def new_connection(self) -> None:
        """Request ids are per connection: what an earlier one resolved means nothing now."""
        self._resolved_early.clear()

    async def server_request(self, method: str, params: dict[str, Any]) -> Any:
        if method not in wire.APPROVAL_METHODS:
            raise CodexError(f"codex-runner does not handle {method}")
        request, wire_decisions = wire.approval_from_wire(uuid.uuid4().hex, method, params)
        turn = self.live(request.thread_id)
        if turn is None:
            decision = fallback_decision(request)
            return wire.approval_response(request.kind, wire_decisions[decision], params)
        key = str(SERVER_REQUEST_ID.get(None))
        self._server_requests[key] = (turn, request.id)
        if self._resolved_early.pop(key, False) is None:
            # Answered elsewhere already: stand down once the turn has it parked.
            self._server_requests.pop(key, None)
            asyncio.get_running_loop().call_soon(turn.answered_elsewhere, request.id)
        try:
            return await turn.answer_approval(request, wire_decisions, params)
        finally:
            self._server_requests.pop(key, None)
