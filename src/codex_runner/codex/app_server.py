"""The app-server runtime: one supervised ``codex app-server``, many threads and turns.

Supervision: the child runs in its own process group with an allow-listed environment,
listening on the shared Unix socket (or stdio). When it dies, every in-flight turn ends
failed with ``transport_closed_before_turn_completed`` and the child restarts with
exponential backoff (codex/restart_policy.py); an app-server named by ``[codex] url`` is
reconnected to instead.

Turns are routed by thread id: the runtime allows one active turn per thread (a second
``turn/start`` on a busy thread is refused; use steer), so every notification that names a
thread belongs to that thread's active turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codex_runner.codex import app_server_threads as threads
from codex_runner.codex.app_server_routing import TurnRoutes
from codex_runner.codex.app_server_threads import ThreadState
from codex_runner.codex.app_server_turn import AppServerTurn, wire_inputs
from codex_runner.codex.approval_policies import decline_all
from codex_runner.codex.connection import AppServerConnection, Launcher, default_launcher
from codex_runner.codex.errors import (
    CodexError,
    RuntimeUnavailable,
    ThreadLost,
    TransportClosed,
    TurnBusy,
)
from codex_runner.codex.process import PidRegistry
from codex_runner.codex.reported_warnings import PROCESS_WARNINGS, ReportedWarnings
from codex_runner.codex.restart_policy import RestartPolicy
from codex_runner.codex.rpc_log import RpcLog, TracingTransport
from codex_runner.codex.runtime import (
    ApprovalHandler,
    RuntimeStatus,
    TextInput,
    ThreadHandle,
    ThreadOptions,
    TurnInput,
    TurnOptions,
    as_inputs,
)
from codex_runner.codex.transport import Transport
from codex_runner.codex.turn_watchdog import watch_turn
from codex_runner.config import RunnerConfig
from codex_runner.domain.events import CodexEvent, EventKind, FailureClass

log = logging.getLogger(__name__)

__all__ = ["AppServerRuntime", "Launcher"]


class AppServerRuntime:
    kind = "app-server"

    def __init__(
        self,
        config: RunnerConfig,
        *,
        approvals: ApprovalHandler | None = None,
        launcher: Launcher | None = None,
        rpc_log: RpcLog | None = None,
        reported_warnings: ReportedWarnings = PROCESS_WARNINGS,
    ) -> None:
        self.config = config
        self._rpc_log = rpc_log
        self._reported = reported_warnings
        self.settings = config.codex
        self._approvals = approvals or decline_all
        self._launcher = launcher
        self._registry = PidRegistry(config.pids_dir)
        self._conn: AppServerConnection | None = None
        self._generation = 0
        self._threads: dict[str, ThreadState] = {}
        self._routes = TurnRoutes(
            request_timeout_s=self.settings.request_timeout_s,
            warn=self._warn,
            rate_limits=self._note_rate_limits,
        )
        self._ready = asyncio.Event()
        self._state = "stopped"
        self._state_changed = asyncio.Event()
        self._policy = RestartPolicy(
            self.settings, external=launcher is None and bool(self.settings.url)
        )
        self._restart_task: asyncio.Task[None] | None = None
        self._status = RuntimeStatus(kind=self.kind, state="stopped")
        self._malformed_before = 0

    # lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> AppServerRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._state not in ("stopped",):
            raise RuntimeUnavailable(f"runtime cannot start from state {self._state!r}")
        self._set_state("starting")
        reaped = await asyncio.to_thread(self._registry.reap_orphans)
        if reaped:
            self._warn(f"reaped {len(reaped)} orphaned codex process(es) left by a crash: {reaped}")
        try:
            await self._connect()
        except CodexError as exc:
            if not self._policy.external:
                self._set_state("stopped")
                raise
            # An app-server the runner does not own may come later: wait for it.
            self._status.last_error = str(exc)
            self._warn(f"the app-server at {self.settings.url} is not reachable yet: {exc}")
            self._begin_restart()
        except BaseException:
            self._set_state("stopped")
            raise

    async def close(self) -> None:
        if self._state == "closed":
            return
        self._set_state("closed")
        self._ready.clear()
        if self._restart_task is not None:
            self._restart_task.cancel()
        self._end_all_turns("the runtime was closed while the turn ran")
        await self._disconnect()

    def status(self) -> RuntimeStatus:
        self._status.pid = self._conn.pid if self._conn else None
        if self._conn is not None:
            self._status.malformed_lines = self._malformed_before + self._conn.malformed_lines
        return self._status

    def _set_state(self, state: str) -> None:
        self._state = state
        self._status.state = state
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    async def wait_for_state(self, *states: str, timeout: float = 30.0) -> str:
        """Wait until the runtime is in one of ``states`` (e.g. ``ready`` after a restart)."""
        async with asyncio.timeout(timeout):
            while self._state not in states:
                await self._state_changed.wait()
        return self._state

    def _note_rate_limits(self, limits: dict[str, Any]) -> None:
        self._status.rate_limits = limits

    def _warn(self, message: str) -> None:
        # The log has each once per daemon process, status() once per runtime.
        self._status.note_warning(self._reported.report(message))

    def _launch(self) -> Launcher:
        # Read at every (re)connect: switch_codex_home changes the config's Codex home.
        return self._launcher or default_launcher(self.config)

    def _trace(self, transport: Transport) -> Transport:
        assert self._rpc_log is not None
        return TracingTransport(transport, self._rpc_log)

    async def _connect(self) -> None:
        self._generation += 1
        generation = self._generation
        conn = AppServerConnection.for_config(
            self.config,
            launcher=self._launch(),
            on_notification=self._route,
            on_server_request=self._routes.server_request,
            on_close=lambda exc: self._on_transport_closed(generation, exc),
            wrap=self._trace if self._rpc_log is not None else None,
        )
        self._conn = conn
        self._routes.new_connection()
        try:
            info = await conn.open()
        except BaseException:
            self._conn = None
            self._malformed_before += conn.malformed_lines
            raise
        self._status.codex_version = info.codex_version or info.user_agent or None
        self._status.started_at = time.time()
        self._set_state("ready")
        self._ready.set()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
            self._malformed_before += conn.malformed_lines

    # supervision -------------------------------------------------------------------------
    def _on_transport_closed(self, generation: int, exc: TransportClosed) -> None:
        # Only a ready connection is supervised here; a failed handshake is the launcher's
        # caller's to handle (start() raises, _restart() counts it and retries).
        if generation != self._generation or self._state != "ready":
            return
        self._ready.clear()
        if self._policy.external:
            message = f"the app-server at {self.settings.url} went away during the turn: {exc}"
        else:
            message = f"codex app-server exited before the turn completed: {exc}"
        self._status.last_error = str(exc)
        for turn in self._routes.take_all():
            turn.fail(FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED, message)
        self._policy.lost()
        self._begin_restart()

    def _begin_restart(self) -> None:
        self._set_state("reconnecting" if self._policy.external else "restarting")
        self._restart_task = asyncio.create_task(self._restart(), name="codex-app-server-restart")

    async def _restart(self) -> None:
        await self._disconnect()
        attempt = 0
        while self._state in ("restarting", "reconnecting"):
            if (why := self._policy.given_up(self._status.last_error)) is not None:
                self._set_state("failed")
                self._status.last_error = why
                log.error("%s", why)
                return
            await asyncio.sleep(self._policy.delay(attempt))
            attempt += 1
            try:
                await self._connect()
                self._status.restarts += 1
                return
            except CodexError as exc:
                self._status.last_error = str(exc)
                self._policy.lost()

    async def _ready_connection(self) -> AppServerConnection:
        if self._state in ("failed", "closed", "stopped"):
            raise RuntimeUnavailable(
                f"codex runtime is {self._state}"
                + (f": {self._status.last_error}" if self._status.last_error else "")
            )
        try:
            await asyncio.wait_for(self._ready.wait(), self.settings.start_timeout_s * 2)
        except TimeoutError:
            raise RuntimeUnavailable(
                f"codex runtime not ready ({self._state}): {self._status.last_error}"
            ) from None
        if self._conn is None:
            raise RuntimeUnavailable(f"codex runtime is {self._state}")
        return self._conn

    # auth profile switch ----------------------------------------------------------------
    def running_turns(self) -> int:
        return len(self._running())

    async def wait_idle(self) -> None:
        """Return once no turn is running (turns started meanwhile are waited for too)."""
        while running := self._running():
            await asyncio.gather(*(t.wait() for t in running))

    async def switch_codex_home(
        self, codex_home: Path | None, *, force: bool = False, binary: Path | None = None
    ) -> None:
        """Restart the app-server on ``codex_home`` (an auth profile's) and/or ``binary`` (a
        Codex release); None keeps what runs. Refuses with TurnBusy while turns run, unless
        ``force`` (they end interrupted). Open threads load again on their next turn; one whose
        rollout lives only in the old home is replaced with context by ``resume_thread``."""
        if self._state not in ("ready", "failed"):  # failed: back on what worked before
            raise RuntimeUnavailable(f"cannot switch the Codex home while {self._state}")
        if self._running() and not force:
            raise TurnBusy(f"{len(self._running())} turn(s) running; wait for them or force")
        # No await before the state change: a turn cannot slip in between check and restart.
        self._ready.clear()
        self._set_state("restarting")
        self._end_all_turns("the Codex runtime restarted on another auth profile or release")
        new = {"home": str(codex_home)} if codex_home is not None else {}
        codex = self.config.codex.model_copy(update=new | ({"bin": str(binary)} if binary else {}))
        self.config = self.config.model_copy(update={"codex": codex})
        await self._disconnect()
        try:
            await self._connect()
        except BaseException as exc:
            self._status.last_error = str(exc)
            self._set_state("failed")
            raise
        self._status.restarts += 1

    def _end_all_turns(self, reason: str) -> None:
        for turn in self._routes.take_all():
            turn.abandon(reason)

    def _running(self) -> list[AppServerTurn]:
        return self._routes.running()

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send any app-server request on the live connection (escape hatch for callers)."""
        return await (await self._ready_connection()).request(method, params)

    # threads -----------------------------------------------------------------------------
    async def start_thread(self, options: ThreadOptions) -> ThreadHandle:
        conn = await self._ready_connection()
        result = await conn.request("thread/start", threads.thread_params(self.settings, options))
        thread_id = str(result["thread"]["id"])
        self._threads[thread_id] = ThreadState(
            options,
            self._generation,
            notice=CodexEvent(EventKind.THREAD_STARTED, thread_id=thread_id),
            opened_with=threads.opened_with(result),
        )
        return ThreadHandle(thread_id)

    async def resume_thread(
        self, thread_id: str, options: ThreadOptions, *, context: str | None = None
    ) -> ThreadHandle:
        """Load a thread by id. A thread Codex cannot load (rollout missing or empty) is
        replaced by a fresh thread that carries ``context`` into its next turn. A thread
        still loaded in this app-server (kept warm after its turn) needs no ``thread/resume``:
        its settings are those it was opened with."""
        state = self._threads.get(thread_id)
        if state is not None and state.generation == self._generation and self._conn is not None:
            state.options = options
            return ThreadHandle(thread_id)
        try:
            await self._resume(thread_id, options)
            return ThreadHandle(thread_id)
        except ThreadLost as exc:
            handle = await self.start_thread(options)
            state = self._threads[handle.id]
            state.context = context
            state.notice = CodexEvent(
                EventKind.THREAD_REPLACED,
                thread_id=handle.id,
                message=f"thread {thread_id} could not be resumed ({exc}); "
                f"started thread {handle.id}"
                + (" with the earlier context" if context else " without earlier context"),
                data={"replaced_thread_id": thread_id, "reason": str(exc)},
            )
            return ThreadHandle(handle.id, replaced_thread_id=thread_id)

    async def _resume(self, thread_id: str, options: ThreadOptions) -> None:
        conn = await self._ready_connection()
        params = threads.thread_params(self.settings, options, starting=False)
        result = await threads.resume_on(conn, thread_id, params)
        self._threads[thread_id] = ThreadState(
            options,
            self._generation,
            notice=CodexEvent(EventKind.THREAD_RESUMED, thread_id=thread_id),
            opened_with=threads.opened_with(result),
        )

    async def release_thread(self, thread_id: str) -> None:
        """Unsubscribe from a thread whose turn ended, so that Codex unloads it.

        Codex keeps every thread it started or resumed in memory (about 1.2 MB each) until its
        last subscriber leaves; a daemon that never let go would grow by that much per task.
        ``thread_unload_delay_secs`` (0 in the headless defaults) says how soon Codex unloads.
        The next turn resumes the thread from its rollout. Failing to unsubscribe costs only
        memory, so it is logged and never raised.
        """
        if self._routes.live(thread_id) is not None:
            return  # a turn runs on it (say, a follow-up started already): keep it
        state = self._threads.pop(thread_id, None)
        conn = self._conn
        if state is None or state.generation != self._generation or conn is None:
            return  # not loaded in this app-server: a restart already unloaded it
        try:
            await conn.request("thread/unsubscribe", {"threadId": thread_id})
        except CodexError as exc:
            log.info("could not unsubscribe from thread %s: %s", thread_id, exc)

    # turns -------------------------------------------------------------------------------
    async def start_turn(
        self,
        thread_id: str,
        prompt: str | Sequence[TurnInput],
        *,
        approvals: ApprovalHandler | None = None,
        options: TurnOptions | None = None,
    ) -> AppServerTurn:
        """Start a turn; its approval requests go to ``approvals`` (else the runtime's);
        ``options`` hold for this turn only."""
        state = self._threads.get(thread_id)
        if state is None:
            raise CodexError(
                f"thread {thread_id} is not open in this runtime; call resume_thread first"
            )
        if self._routes.live(thread_id) is not None:
            raise TurnBusy(
                f"a turn is already running on thread {thread_id}; steer it or wait for it"
            )
        conn = await self._ready_connection()
        if state.generation != self._generation:
            # The app-server restarted since this thread was loaded: load it again.
            await self._resume(thread_id, state.options)
            state = self._threads[thread_id]
        inputs = as_inputs(prompt)
        if state.context:
            inputs.insert(0, TextInput(f"Context from the earlier session:\n{state.context}"))
            state.context = None
        turn = AppServerTurn(
            conn,
            thread_id,
            approvals=approvals or self._approvals,
            request_timeout_s=self.settings.request_timeout_s,
        )
        self._routes.active[thread_id] = turn  # before turn/start: notifications may come first
        if state.notice is not None:
            turn.recorder.emit(state.notice)
            state.notice = None
        params: dict[str, Any] = {"threadId": thread_id, "input": wire_inputs(inputs)}
        params.update(threads.turn_params(self.settings, state, options))
        try:
            result = await threads.start_turn_on(conn, params, self.settings, state.options)
        except CodexError as exc:
            turn.fail(exc.failure_class, f"turn/start failed: {exc}")
            self._routes.live(thread_id)
            return turn
        turn.learn_id(str(result["turn"]["id"]))
        if not turn.done:
            turn.watchdog = asyncio.create_task(
                watch_turn(turn, self.settings.turn_idle_timeout_s),
                name=f"codex-watchdog-{thread_id}",
            )
        return turn

    # incoming ----------------------------------------------------------------------------
    def _route(self, method: str, params: dict[str, Any]) -> None:
        self._routes.route(method, params, self._adoptable)

    def _adoptable(self, thread_id: str) -> AppServerConnection | None:
        """The connection a turn started elsewhere on ``thread_id`` is followed on: only a
        thread loaded by this app-server (a restart unloaded the others)."""
        state = self._threads.get(thread_id)
        if state is None or state.generation != self._generation:
            return None
        return self._conn

    @property
    def on_turn_started_elsewhere(self) -> Callable[[AppServerTurn], None] | None:
        """Told of each turn another client of the shared app-server starts on a thread the
        runner has loaded (the service records it as the task's turn)."""
        return self._routes.on_turn_started_elsewhere

    @on_turn_started_elsewhere.setter
    def on_turn_started_elsewhere(self, callback: Callable[[AppServerTurn], None] | None) -> None:
        self._routes.on_turn_started_elsewhere = callback
