from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from codex_runner.api.app import create_app
from codex_runner.http.auth import bearer_token
from codex_runner.http.routing import Router

from .conftest import AUTH, BASE_URL, TOKEN, Harness, make_service

WRONG_TOKENS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong-token",
    f"Bearer {TOKEN}x",
    f"Basic {TOKEN}",
    TOKEN,
]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_1", path)


def _requests(app: Starlette) -> list[tuple[str, str]]:
    """(method, path) of every route of ``app``."""
    out = []
    for route in app.routes:
        assert isinstance(route, Route)
        for method in sorted((route.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
            out.append((method, _concrete(route.path)))
    return out


async def test_every_route_but_healthz_needs_the_token(tmp_path) -> None:
    extra = Router()

    @extra.get("/v1/extra/thing")
    async def thing() -> dict[str, bool]:
        return {"ok": True}

    service, *_ = make_service(tmp_path)
    app = create_app(service, token=TOKEN, ready=lambda: True, routers=[extra])
    requests = _requests(app)
    paths = {path for _, path in requests}
    assert {"/openapi.json", "/v1/extra/thing", "/v1/tasks", "/readyz"} <= paths
    assert len(requests) > 15
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for method, path in requests:
            response = await client.request(method, path)
            if path == "/healthz":
                assert response.status_code == 200
                continue
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            error = response.json()["error"]
            assert error["code"] == "unauthorized"
            assert "CODEX_RUNNER_HOME/api-token" in error["message"]
        # The extra router really is mounted behind the same auth.
        assert (await client.get("/v1/extra/thing", headers=AUTH)).json() == {"ok": True}


@pytest.mark.parametrize("authorization", WRONG_TOKENS)
async def test_missing_or_wrong_token_is_401(harness: Harness, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [("GET", "/v1/tasks"), ("POST", "/v1/tasks"), ("GET", "/openapi.json")]:
        response = await harness.client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["field"] is None


async def test_unknown_paths_also_need_the_token(harness: Harness) -> None:
    assert (await harness.client.get("/nowhere")).status_code == 401
    response = await harness.client.get("/nowhere", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_docs_pages_are_not_served(harness: Harness) -> None:
    for path in ("/docs", "/redoc"):
        assert (await harness.client.get(path, headers=AUTH)).status_code == 404


async def test_openapi_document_declares_bearer_auth(harness: Harness) -> None:
    response = await harness.client.get("/openapi.json", headers=AUTH)
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["security"] == [{"bearer": []}]
    assert schema["paths"]["/healthz"]["get"]["security"] == []


def test_scheme_is_case_insensitive_and_token_is_trimmed() -> None:
    assert bearer_token(f"bearer {TOKEN}") == TOKEN
    assert bearer_token(f"  Bearer   {TOKEN}  ") == TOKEN
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


def test_an_empty_token_is_refused(tmp_path) -> None:
    service, *_ = make_service(tmp_path)
    app = create_app(service, token="", ready=lambda: True)
    with pytest.raises(ValueError, match="token is empty"):
        app.build_middleware_stack()


def test_the_route_walk_covers_api_routes(tmp_path) -> None:
    service, *_ = make_service(tmp_path)
    app = create_app(service, token=TOKEN, ready=lambda: True)
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert "/v1/tasks/{task_id}/events/stream" in paths
    assert "/docs" not in paths
