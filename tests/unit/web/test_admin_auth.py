"""The admin page's security: which requests are open, cookie sessions, Origin and CSRF
checks, the Host allowlist, one-time login links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Route

from codex_runner.web.sessions import AdminSessions

from .conftest import AUTH, ORIGIN, PORT, TOKEN, Browser, Site, log_in, make_site

# Every request served without credentials, and why it carries no data.
OPEN_REQUESTS = {
    ("GET", "/healthz"),  # liveness
    ("GET", "/admin/login"),  # the login form
    ("POST", "/admin/login"),  # checks the token
    ("GET", "/admin/static/{name}"),  # the page's own JS and CSS
}


def _requests(site: Site) -> list[tuple[str, str]]:
    out = []
    for route in site.app.routes:
        assert isinstance(route, Route)
        for method in sorted((route.methods or {"GET"}) - {"HEAD", "OPTIONS"}):
            out.append((method, route.path))
    return out


def _concrete(path: str) -> str:
    if path == "/admin/static/{name}":
        return "/admin/static/admin.js"
    return re.sub(r"\{[^}]+\}", "x_1", path)


async def test_every_route_but_the_explicit_few_refuses_unauthenticated_requests(
    site: Site,
) -> None:
    requests = _requests(site)
    paths = {path for _, path in requests}
    assert {"/admin/", "/admin/tasks/{task_id}", "/admin/feed", "/v1/tasks"} <= paths
    assert set(requests) >= OPEN_REQUESTS
    async with site.client() as client:
        for method, path in requests:
            response = await client.request(method, _concrete(path), headers={"Origin": ORIGIN})
            if (method, path) in OPEN_REQUESTS:
                assert response.status_code in (200, 401), (method, path)  # 401: no token sent
                assert "set-cookie" not in response.headers
                continue
            if method == "GET" and path.startswith("/admin"):
                # A page: sent to the login form, with nothing of the page.
                assert response.status_code == 303, (method, path, response.text)
                assert response.headers["location"] == "/admin/login"
                assert response.content == b""
                continue
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "unauthorized"


async def test_a_forged_or_stale_cookie_is_refused_everywhere(site: Site) -> None:
    async with site.client() as client:
        client.cookies.set(site.sessions.cookie_name, "forged")
        for method, path in _requests(site):
            if (method, path) in OPEN_REQUESTS:
                continue
            response = await client.request(method, _concrete(path), headers={"Origin": ORIGIN})
            assert response.status_code in (303, 401), (method, path)


async def test_logging_in_with_the_token_sets_a_strict_httponly_session_cookie(
    site: Site,
) -> None:
    async with site.client() as client:
        wrong = await client.post(
            "/admin/login", data={"token": TOKEN + "x"}, headers={"Origin": ORIGIN}
        )
        assert wrong.status_code == 401
        assert "Wrong token" in wrong.text
        assert "set-cookie" not in wrong.headers
        response = await client.post(
            "/admin/login", data={"token": TOKEN}, headers={"Origin": ORIGIN}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{site.sessions.cookie_name}=")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert "secure" not in attributes  # served over plain http here
        assert TOKEN not in cookie
        # The cookie now reads the API and the pages; the token appears in none of them.
        assert (await client.get("/v1/tasks")).status_code == 200
        for path in ("/admin/", "/admin/approvals", "/admin/runtime", "/admin/graphs"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert TOKEN not in page.text
            assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_the_cookie_is_secure_when_served_over_https(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with site.client(base_url=f"https://127.0.0.1:{PORT}") as client:
        response = await client.post(
            "/admin/login", data={"token": TOKEN}, headers={"Origin": f"https://127.0.0.1:{PORT}"}
        )
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "origin",
    [None, "null", f"{ORIGIN}.evil.example", "http://evil.example", f"https://127.0.0.1:{PORT}"],
)
async def test_a_cookie_request_that_changes_state_needs_the_exact_origin(
    site: Site, browser: Browser, origin: str | None
) -> None:
    headers = {"X-CSRF-Token": browser.csrf}
    if origin is not None:
        headers["Origin"] = origin
    body = {"prompt": "hello", "cwd": str(site.plain_dir)}
    response = await browser.client.post("/v1/tasks", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden_origin"
    assert await site.store.list_tasks() == []


@pytest.mark.parametrize("csrf", [None, "", "wrong", "other-session"])
async def test_a_cookie_request_that_changes_state_needs_the_sessions_csrf_token(
    site: Site, browser: Browser, csrf: str | None
) -> None:
    if csrf == "other-session":
        csrf = site.sessions.create().csrf_token
    headers = {"Origin": ORIGIN}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    body = {"prompt": "hello", "cwd": str(site.plain_dir)}
    response = await browser.client.post("/v1/tasks", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    ok = await browser.client.post(
        "/v1/tasks", json=body, headers={"Origin": ORIGIN, "X-CSRF-Token": browser.csrf}
    )
    assert ok.status_code == 201, ok.text


async def test_bearer_clients_need_no_origin_or_csrf(site: Site) -> None:
    async with site.client() as client:
        body = {"prompt": "hello", "cwd": str(site.plain_dir)}
        response = await client.post("/v1/tasks", json=body, headers=AUTH)
        assert response.status_code == 201, response.text


async def test_the_login_form_refuses_a_foreign_origin(site: Site) -> None:
    async with site.client() as client:
        for origin in (f"{ORIGIN}.evil.example", "http://evil.example"):
            response = await client.post(
                "/admin/login", data={"token": TOKEN}, headers={"Origin": origin}
            )
            assert response.status_code == 403
            assert "set-cookie" not in response.headers


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
async def test_the_loopback_names_on_the_right_port_are_served(site: Site, host: str) -> None:
    async with site.client(base_url=f"http://{host}:{PORT}") as client:
        assert (await client.get("/v1/tasks", headers=AUTH)).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example:8765", "127.0.0.1:9999", "127.0.0.1", "localhost.evil.example:8765"]
)
async def test_any_other_host_header_is_refused_even_with_the_token(site: Site, host: str) -> None:
    async with site.client() as client:
        for path in ("/v1/tasks", "/healthz", "/admin/login"):
            response = await client.get(path, headers={**AUTH, "Host": host})
            assert response.status_code == 421, (host, path)
            assert response.json()["error"]["code"] == "misdirected_host"


async def test_a_one_time_login_link_works_once(site: Site) -> None:
    code = site.sessions.issue_login_code()
    async with site.client() as client:
        response = await client.get("/admin/login", params={"once": code})
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/"  # the code leaves the address bar
        assert site.sessions.cookie_name in response.headers["set-cookie"]
        assert (await client.get("/v1/tasks")).status_code == 200
    async with site.client() as other:
        again = await other.get("/admin/login", params={"once": code})
        assert again.status_code == 401
        assert "set-cookie" not in again.headers
        assert (await other.get("/v1/tasks")).status_code == 401


async def test_a_login_link_expires(tmp_path: Path) -> None:
    now = [1000.0]
    site = make_site(tmp_path, clock=lambda: now[0])
    code = site.sessions.issue_login_code()
    now[0] += 301
    async with site.client() as client:
        assert (await client.get("/admin/login", params={"once": code})).status_code == 401


async def test_a_session_expires_and_logout_ends_it(tmp_path: Path) -> None:
    now = [1000.0]
    site = make_site(tmp_path, clock=lambda: now[0], session_ttl_s=60)
    async with site.client() as client:
        csrf = await log_in(client)
        assert (await client.get("/v1/tasks")).status_code == 200
        now[0] += 61
        assert (await client.get("/v1/tasks")).status_code == 401
        csrf = await log_in(client)
        out = await client.post("/admin/logout", headers={"Origin": ORIGIN, "X-CSRF-Token": csrf})
        assert out.status_code == 200
        client.cookies.clear()
        assert (await client.get("/v1/tasks")).status_code == 401


async def test_logout_needs_the_csrf_token(site: Site, browser: Browser) -> None:
    response = await browser.client.post("/admin/logout", headers={"Origin": ORIGIN})
    assert response.status_code == 403
    assert (await browser.client.get("/v1/tasks")).status_code == 200


async def test_assets_are_served_and_nothing_else_under_static(site: Site) -> None:
    async with site.client() as client:
        js = await client.get("/admin/static/admin.js")
        assert js.status_code == 200
        assert js.headers["content-type"].startswith("text/javascript")
        assert (await client.get("/admin/static/admin.css")).status_code == 200
        for name in ("../routes.py", "routes.py", "%2e%2e%2froutes.py", "x.html"):
            response = await client.get(f"/admin/static/{name}")
            assert response.status_code in (303, 404), name  # 303: left the prefix: login
            assert b"import" not in response.content
        # A POST under the asset prefix is not open.
        assert (
            await client.post("/admin/static/admin.js", headers={"Origin": ORIGIN})
        ).status_code in (401, 405)


def test_sessions_are_bounded_and_random() -> None:
    sessions = AdminSessions()
    first = sessions.create()
    second = sessions.create()
    assert first.id != second.id and first.csrf_token != second.csrf_token
    assert sessions.csrf_token(first.id) == first.csrf_token
    assert sessions.csrf_token(first.csrf_token) is None
    assert sessions.csrf_token("") is None
