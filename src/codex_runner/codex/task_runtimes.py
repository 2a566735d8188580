"""Both runtimes in one daemon: each task runs on the one it asks for.

The daemon's configured runtime (``[codex] runtime``) is the default and is started with
the daemon; the other is made and started when the first task asks for it (the exec runtime
starts no process until a turn runs, so this costs nothing until then). Threads are routed
to the runtime that opened them; a thread id this router has not seen (a caller's
``release_thread`` after a restart) goes to every runtime, which ignore ids they do not know.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from codex_runner.codex.errors import RuntimeUnavailable
from codex_runner.codex.runtime import (
    ApprovalHandler,
    CodexRuntime,
    RuntimeStatus,
    ThreadHandle,
    ThreadOptions,
    Turn,
    TurnInput,
    TurnOptions,
)

# Routes kept for threads; past this many, the oldest are forgotten (a forgotten thread's
# next start or resume names its runtime again).
MAX_ROUTES = 100_000


class TaskRuntimes:
    """A :class:`CodexRuntime` over the default runtime and, on demand, the other kind."""

    def __init__(self, default: CodexRuntime, make: Callable[[str], CodexRuntime]) -> None:
        self.default = default
        self.kind = default.kind
        self._make = make
        self._others: dict[str, CodexRuntime] = {}
        self._starting = asyncio.Lock()
        self._routes: dict[str, CodexRuntime] = {}  # thread id -> the runtime it lives in

    async def runtime_for(self, kind: str | None) -> CodexRuntime:
        """The runtime of ``kind`` (None: the default), started on first use."""
        if kind is None or kind == self.default.kind:
            return self.default
        async with self._starting:
            runtime = self._others.get(kind)
            if runtime is None:
                runtime = self._make(kind)
                await runtime.start()
                self._others[kind] = runtime
        return runtime

    def started(self) -> list[CodexRuntime]:
        return [self.default, *self._others.values()]

    # --- CodexRuntime ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.default.start()

    async def close(self) -> None:
        """Close the runtimes made on demand; the default belongs to whoever made it."""
        others, self._others = list(self._others.values()), {}
        await asyncio.gather(*(r.close() for r in others), return_exceptions=True)

    def status(self) -> RuntimeStatus:
        return self.default.status()

    async def start_thread(
        self, options: ThreadOptions, runtime: str | None = None
    ) -> ThreadHandle:
        chosen = await self.runtime_for(runtime)
        handle = await chosen.start_thread(options)
        self._route(handle.id, chosen)
        return handle

    async def resume_thread(
        self,
        thread_id: str,
        options: ThreadOptions,
        *,
        context: str | None = None,
        runtime: str | None = None,
    ) -> ThreadHandle:
        chosen = await self.runtime_for(runtime)
        previous = self._routes.get(thread_id)
        if previous is not None and previous is not chosen:
            await previous.release_thread(thread_id)  # the task moved to the other runtime
        handle = await chosen.resume_thread(thread_id, options, context=context)
        self._route(thread_id, chosen)
        self._route(handle.id, chosen)
        return handle

    async def start_turn(
        self,
        thread_id: str,
        prompt: str | Sequence[TurnInput],
        *,
        approvals: ApprovalHandler | None = None,
        options: TurnOptions | None = None,
    ) -> Turn:
        runtime = self._routes.get(thread_id, self.default)
        turn = await runtime.start_turn(thread_id, prompt, approvals=approvals, options=options)
        return turn

    def learn(self, thread_id: str, alias: str) -> None:
        """``alias`` names the same thread as ``thread_id`` (exec's id once Codex named it)."""
        runtime = self._routes.get(thread_id)
        if runtime is not None:
            self._route(alias, runtime)

    async def release_thread(self, thread_id: str) -> None:
        runtime = self._routes.pop(thread_id, None)
        targets = [runtime] if runtime is not None else self.started()
        for target in targets:
            await target.release_thread(thread_id)

    def _route(self, thread_id: str, runtime: CodexRuntime) -> None:
        self._routes.pop(thread_id, None)
        self._routes[thread_id] = runtime
        while len(self._routes) > MAX_ROUTES:
            del self._routes[next(iter(self._routes))]


def single_runtime(runtime: CodexRuntime) -> TaskRuntimes:
    """``runtime`` alone: a task asking for another kind is refused when it runs."""

    def refuse(kind: str) -> CodexRuntime:
        raise RuntimeUnavailable(
            f"this runner has only the {runtime.kind} runtime; a task cannot run on {kind}"
        )

    return TaskRuntimes(runtime, refuse)
