"""The daemon's ``/mcp``: the tools over its TaskService, served as Streamable HTTP.

The API's bearer auth and Host check come from the middleware the daemon's app puts around
every path (:mod:`codex_runner.http.auth`); the SDK's transport security checks the Host
and Origin once more against the same names. The session manager runs for the daemon's
lifetime: :meth:`McpEndpoint.running` around serving.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from codex_runner.config import McpSettings
from codex_runner.mcp_server.service_backend import ServiceBackend
from codex_runner.mcp_server.tools import build_server
from codex_runner.service.tasks import TaskService

MAX_SESSIONS = 100
SESSION_IDLE_TIMEOUT_S = 30 * 60.0


class McpEndpoint:
    """``app`` serves MCP at ``path``; it answers only inside :meth:`running`."""

    def __init__(
        self,
        service: TaskService,
        defaults: McpSettings,
        *,
        path: str,
        allowed_hosts: Collection[str] | None = None,
    ) -> None:
        server = build_server(ServiceBackend(service), defaults)
        hosts = sorted(allowed_hosts or ())
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=allowed_hosts is not None,
            allowed_hosts=hosts,
            # A browser's Origin for a page of this daemon: its scheme and Host.
            allowed_origins=[f"http://{host}" for host in hosts],
        )
        # Builds the session manager (the Starlette app it returns is not used: the
        # daemon's own app routes the path, behind its middleware).
        server.streamable_http_app(
            streamable_http_path=path,
            transport_security=security,
            max_sessions=MAX_SESSIONS,
            session_idle_timeout=SESSION_IDLE_TIMEOUT_S,
        )
        self._manager = server.session_manager
        self.app: ASGIApp = StreamableHTTPASGIApp(self._manager)

    def running(self) -> AbstractAsyncContextManager[None]:
        """The sessions' task group: enter before serving, leave (same task) to stop; open
        sessions and calls in progress are cancelled then."""
        return self._manager.run()
