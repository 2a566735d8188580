"""The admin page's routes: the login, the HTML shells of each view, its assets, and one
live feed of every task's events.

Pages are thin shells: the browser reads and changes everything through the JSON API and
its event streams (same origin, authenticated by the session cookie), so no rule of the
service is repeated here. Unauthenticated requests never reach these routes (see
:mod:`codex_runner.http.auth`) except the ones in :data:`OPEN_REQUESTS` and the assets.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from codex_runner import __version__
from codex_runner.domain.durable_event import EVENT_TYPES, TaskEvent
from codex_runner.domain.task import REASONING_EFFORTS, TaskState
from codex_runner.domain.task_options import (
    PERSONALITIES,
    REASONING_SUMMARIES,
    RUNTIME_KINDS,
    SERVICE_TIERS,
)
from codex_runner.domain.transitions import user_actions
from codex_runner.http.auth import CSRF_HEADER, BrowserAccess
from codex_runner.http.errors import error_response
from codex_runner.http.routing import Router
from codex_runner.logs import LEVELS
from codex_runner.runner_home.api_token import TOKEN_FILE, token_matches
from codex_runner.service.coauthors import Coauthors
from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.service.event_bus import EventBus, Lagged
from codex_runner.service.metrics_disk import DiskUsage
from codex_runner.service.operations import OperationsReader
from codex_runner.service.overview import OverviewReader, UnknownWindow, parse_window
from codex_runner.service.tasks import TaskService
from codex_runner.web.disk_panel import disk_policy_context
from codex_runner.web.operations import operations_context
from codex_runner.web.overview import overview_context
from codex_runner.web.sessions import SESSION_TTL_S, AdminSessions

if TYPE_CHECKING:
    import jinja2

PREFIX = "/admin"
LOGIN_PATH = f"{PREFIX}/login"
STATIC_PREFIX = f"{PREFIX}/static/"
OPEN_REQUESTS: frozenset[tuple[str, str]] = frozenset({("GET", LOGIN_PATH), ("POST", LOGIN_PATH)})
# admin.js starts the page; the others are the ES modules it imports (one per view).
_SCRIPTS = [
    "admin",
    "api",
    "approval_alerts",
    "approvals",
    "coauthors",
    "dom",
    "graphs",
    "hosts",
    "live",
    "logs",
    "markdown",
    "operations",
    "options_form",
    "profiles",
    "releases",
    "results",
    "runtime",
    "streaming",
    "task",
    "task_facts",
    "tasks",
    "timeline",
]
ASSETS: dict[str, str] = {
    "admin.css": "text/css",
    **{f"{name}.js": "text/javascript" for name in _SCRIPTS},
}
TASKS_PAGE_SIZE = 50

# Pages load only their own scripts and styles and talk only to this origin: even if some
# model output slipped through unescaped, the browser would not run it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, Chromium sends `Origin: null` on form posts (the login).
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@functools.cache
def _templates() -> jinja2.Environment:
    # Imported and built on the first page, not when the daemon starts: a restart's
    # critical path has no page to render.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("codex_runner.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def admin_access(sessions: AdminSessions) -> BrowserAccess:
    """What the auth middleware needs to let the admin page's browser in."""
    return BrowserAccess(
        sessions=sessions,
        open_requests=OPEN_REQUESTS,
        open_asset_prefix=STATIC_PREFIX,
        login_path=LOGIN_PATH,
    )


def admin_router(
    service: TaskService,
    bus: EventBus,
    *,
    token: str,
    sessions: AdminSessions,
    disk: DiskUsage | None = None,
    disk_policy: DiskPolicy | None = None,
    operations: OperationsReader | None = None,
) -> Router:
    """The admin page under ``/admin``; mount it with ``browser=admin_access(sessions)``.
    ``disk`` is the daemon's disk use measure and ``disk_policy`` its [disk] policy, for the
    overview; ``operations`` reads the Operations page (one over the service alone when
    not given)."""
    router = Router(prefix=PREFIX, include_in_schema=False)

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        session_id = request.cookies.get(sessions.cookie_name, "")
        html = (
            _templates()
            .get_template(template)
            .render(
                csrf_token=sessions.csrf_token(session_id) or "" if session_id else "",
                csrf_header=CSRF_HEADER,
                states=[s.value for s in TaskState],
                event_types=sorted(EVENT_TYPES),
                version=__version__,
                page_size=TASKS_PAGE_SIZE,
                # The forms' choices come from the domain, so the page offers no value the
                # service would refuse and misses none it takes.
                efforts=REASONING_EFFORTS,
                personalities=PERSONALITIES,
                service_tiers=SERVICE_TIERS,
                summaries=REASONING_SUMMARIES,
                runtimes=RUNTIME_KINDS,
                **context,
            )
        )
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    def login_form(request: Request, error: str | None, status: int) -> HTMLResponse:
        response = page(request, "login.html", page="login", error=error, token_file=TOKEN_FILE)
        response.status_code = status
        return response

    def logged_in(request: Request) -> RedirectResponse:
        session = sessions.create()
        response = RedirectResponse(f"{PREFIX}/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(
            sessions.cookie_name,
            session.id,
            max_age=int(SESSION_TTL_S),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.get("/login")
    async def login_page(request: Request, once: str | None = None) -> Response:
        """The login form; ``?once=`` with a code printed by ``serve`` logs in directly."""
        if once is None:
            return login_form(request, None, 200)
        if sessions.redeem_login_code(once):
            return logged_in(request)
        return login_form(request, "That login link has expired or was already used.", 401)

    @router.post("/login")
    async def login(request: Request) -> Response:
        async with request.form(max_files=0, max_fields=10) as form:
            presented = form.get("token")
        if isinstance(presented, str) and presented and token_matches(token, presented.strip()):
            return logged_in(request)
        return login_form(request, "Wrong token.", 401)

    @router.post("/logout")
    async def logout(request: Request) -> JSONResponse:
        session_id = request.cookies.get(sessions.cookie_name)
        if session_id:
            sessions.end(session_id)
        response = JSONResponse({"ok": True}, headers=SECURITY_HEADERS)
        response.delete_cookie(sessions.cookie_name, path="/", httponly=True, samesite="strict")
        return response

    @router.get("")
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @router.get("/")
    async def tasks_page(request: Request) -> HTMLResponse:
        return page(request, "tasks.html", page="tasks")

    @router.get("/tasks/{task_id}")
    async def task_page(request: Request, task_id: str) -> HTMLResponse:
        task = await service.get(task_id)  # 404 for an unknown task
        return page(
            request,
            "task.html",
            page="task",
            task_id=task_id,
            allowed=[a.value for a in user_actions(task.state)],
            user_actions=user_actions_by_state(),
        )

    @router.get("/approvals")
    async def approvals_page(request: Request) -> HTMLResponse:
        return page(request, "approvals.html", page="approvals")

    @router.get("/graphs")
    async def graphs_page(request: Request) -> HTMLResponse:
        return page(request, "graphs.html", page="graphs", graph_id="")

    @router.get("/graphs/{graph_id}")
    async def graph_page(request: Request, graph_id: str) -> HTMLResponse:
        await service.graph(graph_id)  # 404 for an unknown graph
        return page(request, "graphs.html", page="graph", graph_id=graph_id)

    @router.get("/logs")
    async def logs_page(request: Request) -> HTMLResponse:
        """A live tail of the layered logs; the page reads them from ``/v1/logs``."""
        return page(request, "logs.html", page="logs", levels=LEVELS)

    @router.get("/runtime")
    async def runtime_page(request: Request) -> HTMLResponse:
        return page(request, "runtime.html", page="runtime")

    @router.get("/releases")
    async def releases_page(request: Request) -> HTMLResponse:
        """Codex releases; the page reads and switches them through /v1/codex."""
        return page(request, "releases.html", page="releases")

    @router.get("/profiles")
    async def profiles_page(request: Request) -> HTMLResponse:
        """The auth profiles; the page reads and changes them through /v1/auth/profiles."""
        return page(request, "profiles.html", page="profiles")

    @router.get("/coauthors")
    async def coauthors_page(request: Request) -> HTMLResponse:
        """The co-author map, drawn on the server; the page changes it through /v1/coauthors."""
        entries = await Coauthors(service.store).entries()
        return page(request, "coauthors.html", page="coauthors", coauthors=entries)

    operations_reader = operations or OperationsReader(service, disk=disk)

    @router.get("/operations")
    async def operations_page(request: Request) -> HTMLResponse:
        """The daemon at a glance, drawn on the server; the log tail reads /v1/logs."""
        context = operations_context(await operations_reader.read(), disk_policy)
        return page(request, "operations.html", page="operations", levels=LEVELS, **context)

    overviews = OverviewReader(service, disk=disk)

    @router.get("/overview")
    async def overview_page(request: Request, window: str = "24h") -> Response:
        """Charts of the last 24 hours or 7 days, drawn on the server (web/overview.py)."""
        try:
            chosen = parse_window(window)
        except UnknownWindow as exc:
            return error_response(400, "invalid_request", str(exc), field="window")
        figures = overview_context(await overviews.read(chosen))
        figures.update(disk_policy_context(disk_policy))
        return page(request, "overview.html", page="overview", **figures)

    @router.get("/feed")
    async def feed(request: Request) -> Response:
        """Every task's events from now on (SSE). Views re-read what they show from the API
        when it (re)connects, so a reconnect loses nothing."""
        streams = request.app.state.event_streams
        response: Response = streams.response(_all_events(bus))
        return response

    @router.get("/static/{name}")
    async def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            return error_response(404, "not_found", f"no asset {name!r}")
        body = resources.files("codex_runner.web").joinpath("static", name).read_bytes()
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})

    return router


def user_actions_by_state() -> dict[str, list[str]]:
    """For each task state, the actions a person may take from it, from the transition
    table: the page shows only those buttons as the task's state changes, without a copy
    of the state rules of its own."""
    return {state.value: [a.value for a in user_actions(state)] for state in TaskState}


async def _all_events(bus: EventBus) -> AsyncIterator[TaskEvent]:
    subscription = bus.subscribe(None)
    try:
        async for event in subscription:
            yield event
    except Lagged:
        return  # the stream ends; the page reconnects and re-reads its view
    finally:
        subscription.close()
