"""The daemon's HTTP API as an ASGI app: :func:`create_app` over a :class:`TaskService`.

Routes parse the request, call the service and render :mod:`codex_runner.http.wire`;
errors are rendered in :mod:`codex_runner.http.errors`; every route except ``/healthz``
needs the bearer token (:mod:`codex_runner.http.auth`), the OpenAPI document included.
With ``browser`` access (the admin page) a session cookie authenticates too, under the
Origin and CSRF checks; with ``allowed_hosts`` any other ``Host`` header is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware

from codex_runner import __version__
from codex_runner.api.routes_approvals import approval_routes
from codex_runner.api.routes_coauthors import coauthor_routes
from codex_runner.api.routes_events import event_routes
from codex_runner.api.routes_graphs import graph_routes
from codex_runner.api.routes_hosts import host_routes
from codex_runner.api.routes_runtime import runtime_routes
from codex_runner.api.routes_sessions import session_routes
from codex_runner.api.routes_tasks import task_routes
from codex_runner.http.auth import BearerAuth, BrowserAccess
from codex_runner.http.errors import UnexpectedErrors
from codex_runner.http.json_app import json_app, open_paths
from codex_runner.http.routing import Router
from codex_runner.http.sse import DEFAULT_KEEPALIVE_S, EventStreams
from codex_runner.http.wire_link import LinkOut
from codex_runner.service.readiness import NotReady
from codex_runner.service.tasks import TaskService

DEFAULT_GC_RETENTION_S = 7 * 24 * 3600.0


def create_app(
    service: TaskService,
    *,
    token: str,
    ready: Callable[[], bool],
    routers: Sequence[Router] = (),
    gc_retention_s: float = DEFAULT_GC_RETENTION_S,
    version: str = __version__,
    sse_keepalive_s: float = DEFAULT_KEEPALIVE_S,
    browser: BrowserAccess | None = None,
    allowed_hosts: frozenset[str] | None = None,
    home_problem: Callable[[], str | None] = lambda: None,
    link_status: Callable[[], LinkOut | None] = lambda: None,
    readiness: Callable[[], Sequence[NotReady]] = lambda: (),
) -> Starlette:
    """The API over ``service``. ``ready()`` says whether the store is open and the Codex
    runtime initialized (``/readyz``); ``routers`` are mounted under the same bearer auth,
    except those that authenticate their requests themselves
    (``Router(authenticates_itself=True)``).

    ``app.state.event_streams`` (:class:`EventStreams`) holds the open event streams: call
    its ``close_all()`` when the daemon shuts down, so they do not hold the server open.
    ``browser`` lets the admin page's session cookie authenticate (its router goes in
    ``routers``); ``allowed_hosts`` (see :func:`~codex_runner.http.auth.host_allowlist`)
    refuses requests for any other ``Host``. ``home_problem()`` says what is wrong with
    the runner's home, if anything (``/readyz`` answers 503 with it); ``link_status()``
    the chat server link's state for ``/v1/status``; ``readiness()`` each failing check
    (``/readyz`` names them all).
    """
    streams = EventStreams(keepalive_s=sse_keepalive_s)
    own = [
        runtime_routes(
            service,
            ready=ready,
            gc_retention_s=gc_retention_s,
            version=version,
            home_problem=home_problem,
            link_status=link_status,
            readiness=readiness,
        ),
        task_routes(service),
        event_routes(service, streams),
        approval_routes(service),
        graph_routes(service, streams),
        session_routes(service),
        host_routes(service),
        coauthor_routes(service.store),
    ]
    groups = [*own, *routers]
    app = json_app(
        groups,
        version=version,
        middleware=[
            # The outermost layer first: nothing reaches a route without auth.
            Middleware(
                BearerAuth,
                token=token,
                open_paths=open_paths(groups),
                browser=browser,
                allowed_hosts=allowed_hosts,
            ),
            Middleware(UnexpectedErrors),
        ],
    )
    app.state.event_streams = streams
    return app
