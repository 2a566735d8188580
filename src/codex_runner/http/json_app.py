"""An ASGI app serving declared routers: the error rendering and the OpenAPI document.

The daemon's API (:func:`codex_runner.api.app.create_app`) is one, with the bearer auth
around it; a test or a bridge's own server may serve routers the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from codex_runner import __version__
from codex_runner.http import openapi
from codex_runner.http.auth import OPEN_PATHS
from codex_runner.http.errors import error_handlers
from codex_runner.http.routing import Endpoint, Router

BEARER_SCHEME = "bearer"
OPENAPI_PATH = "/openapi.json"
TITLE = "codex-runner"


def open_paths(routers: Iterable[Router]) -> frozenset[str]:
    """Paths served without the API token: ``/healthz``, and the routes of routers that
    check a credential of their own."""
    own_auth = {e.path for r in routers if r.authenticates_itself for e in r.endpoints}
    return OPEN_PATHS | own_auth


def json_app(
    routers: Iterable[Router], *, version: str = __version__, middleware: Sequence[Middleware] = ()
) -> Starlette:
    """An app serving ``routers`` with the API's error rendering and its OpenAPI document
    (no auth of its own: pass it in ``middleware``)."""
    groups = list(routers)
    endpoints = [e for r in groups for e in r.endpoints]
    routes: list[Route] = [r for router in groups for r in router.routes()]
    openapi_route = _openapi_route(endpoints, version, open_paths(groups))
    routes.append(Route(OPENAPI_PATH, openapi_route, methods=["GET"]))
    return Starlette(routes=routes, middleware=middleware, exception_handlers=error_handlers())


def _openapi_route(
    endpoints: list[Endpoint], version: str, unauthenticated: frozenset[str]
) -> Callable[[Request], Any]:
    built: dict[str, Any] = {}

    async def openapi_document(request: Request) -> Response:
        """The document, built on first request; bearer auth required everywhere but the
        paths served without the API token."""
        if not built:
            built.update(
                openapi.document(
                    endpoints,
                    title=TITLE,
                    version=version,
                    bearer_scheme=BEARER_SCHEME,
                    open_paths=unauthenticated,
                )
            )
        return JSONResponse(built)

    return openapi_document
