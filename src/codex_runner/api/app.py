"""The daemon's HTTP API as an ASGI app: :func:`create_app` over a :class:`TaskService`.

Routes parse the request, call the service and render :mod:`codex_runner.api.schemas`;
errors are rendered in :mod:`codex_runner.api.errors`; every route except ``/healthz``
needs the bearer token (:mod:`codex_runner.api.auth`), the OpenAPI document included.
With ``browser`` access (the admin page) a session cookie authenticates too, under the
Origin and CSRF checks; with ``allowed_hosts`` any other ``Host`` header is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from codex_runner import __version__
from codex_runner.api.auth import OPEN_PATHS, BearerAuth, BrowserAccess
from codex_runner.api.errors import UnexpectedErrors, install_error_handlers
from codex_runner.api.routes_approvals import approval_routes
from codex_runner.api.routes_events import event_routes
from codex_runner.api.routes_graphs import graph_routes
from codex_runner.api.routes_runtime import runtime_routes
from codex_runner.api.routes_tasks import task_routes
from codex_runner.api.sse import DEFAULT_KEEPALIVE_S, EventStreams
from codex_runner.service.tasks import TaskService

DEFAULT_GC_RETENTION_S = 7 * 24 * 3600.0
BEARER_SCHEME = "bearer"


class _RunnerAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI's document plus the bearer scheme, required everywhere but /healthz."""
        if self.openapi_schema is not None:
            return self.openapi_schema
        schema = super().openapi()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[BEARER_SCHEME] = {"type": "http", "scheme": "bearer"}
        schema["security"] = [{BEARER_SCHEME: []}]
        for path in OPEN_PATHS:
            for operation in schema.get("paths", {}).get(path, {}).values():
                operation["security"] = []
        self.openapi_schema = schema
        return schema


def create_app(
    service: TaskService,
    *,
    token: str,
    ready: Callable[[], bool],
    routers: Sequence[APIRouter] = (),
    gc_retention_s: float = DEFAULT_GC_RETENTION_S,
    version: str = __version__,
    sse_keepalive_s: float = DEFAULT_KEEPALIVE_S,
    browser: BrowserAccess | None = None,
    allowed_hosts: frozenset[str] | None = None,
) -> FastAPI:
    """The API over ``service``. ``ready()`` says whether the store is open and the Codex
    runtime initialized (``/readyz``); ``routers`` are mounted under the same bearer auth.

    ``app.state.event_streams`` (:class:`EventStreams`) holds the open event streams: call
    its ``close_all()`` when the daemon shuts down, so they do not hold the server open.
    ``browser`` lets the admin page's session cookie authenticate (its router goes in
    ``routers``); ``allowed_hosts`` (see :func:`~codex_runner.api.auth.host_allowlist`)
    refuses requests for any other ``Host``.
    """
    app = _RunnerAPI(
        title="codex-runner",
        version=version,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    streams = EventStreams(keepalive_s=sse_keepalive_s)
    app.state.event_streams = streams
    app.include_router(
        runtime_routes(service, ready=ready, gc_retention_s=gc_retention_s, version=version)
    )
    app.include_router(task_routes(service))
    app.include_router(event_routes(service, streams))
    app.include_router(approval_routes(service))
    app.include_router(graph_routes(service))
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(UnexpectedErrors)
    # Added last: the outermost layer.
    app.add_middleware(BearerAuth, token=token, browser=browser, allowed_hosts=allowed_hosts)
    return app
