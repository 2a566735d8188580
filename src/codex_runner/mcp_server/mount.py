"""The daemon's ``/mcp`` as an ASGI app that sets the MCP endpoint up on first use.

The MCP SDK takes about 0.4 s to import; a daemon that nobody asks for MCP should not start
that much slower. The first request imports it (in a thread, so the event loop goes on),
builds the :class:`~codex_runner.mcp_server.endpoint.McpEndpoint` and starts its session
manager in a task of its own, which :meth:`McpMount.aclose` stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from codex_runner.config import McpSettings
from codex_runner.http.errors import error_response
from codex_runner.service.tasks import TaskService

if TYPE_CHECKING:
    from codex_runner.mcp_server.endpoint import McpEndpoint

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"  # where the daemon serves MCP

STOPPED_MESSAGE = "MCP is stopped: the daemon is shutting down; connect again once it runs"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class McpMount:
    """ASGI app serving MCP; the endpoint and its sessions exist from the first request
    until :meth:`aclose`."""

    def __init__(
        self,
        service: TaskService,
        defaults: McpSettings,
        *,
        allowed_hosts: Collection[str] | None = None,
    ) -> None:
        self._service = service
        self._defaults = defaults
        self._hosts = allowed_hosts
        self._lock = asyncio.Lock()
        self._endpoint: McpEndpoint | None = None
        self._running: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._closed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = await self._started()
        if endpoint is None:
            stopped = error_response(503, "unavailable", STOPPED_MESSAGE)
            await stopped(scope, receive, send)
            return
        await endpoint.app(scope, receive, send)

    async def _started(self) -> McpEndpoint | None:
        """The endpoint, set up on first use; None once stopped."""
        async with self._lock:
            if self._closed:
                return None
            if self._endpoint is None:
                module = await asyncio.to_thread(
                    importlib.import_module, "codex_runner.mcp_server.endpoint"
                )
                endpoint: McpEndpoint = module.McpEndpoint(
                    self._service, self._defaults, path=MCP_PATH, allowed_hosts=self._hosts
                )
                ready = asyncio.Event()
                running = asyncio.create_task(self._run(endpoint, ready), name="mcp")
                waiting = asyncio.create_task(ready.wait(), name="mcp-ready")
                await asyncio.wait(
                    {running, waiting},
                    timeout=START_TIMEOUT_S,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
                if not ready.is_set():
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await running
                    raise RuntimeError("the MCP session manager did not start")
                self._running, self._endpoint = running, endpoint
            return self._endpoint

    async def _run(self, endpoint: McpEndpoint, ready: asyncio.Event) -> None:
        # One task enters and leaves the session manager (its task group requires it).
        async with endpoint.running():
            ready.set()
            await self._stop.wait()

    async def aclose(self) -> None:
        """End the sessions; calls in progress (a wait_task) are cancelled, so their open
        responses do not hold the HTTP server's shutdown."""
        async with self._lock:
            self._closed = True
            self._stop.set()
            running, self._running = self._running, None
        if running is None:
            return
        try:
            await asyncio.wait_for(running, STOP_TIMEOUT_S)
        except Exception:
            log.warning("the MCP sessions did not stop cleanly", exc_info=True)
        with contextlib.suppress(asyncio.CancelledError):
            if not running.done():
                running.cancel()
                await running
