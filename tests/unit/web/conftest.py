"""The API with the admin page mounted, over a real TaskService with in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from codex_runner.api.app import create_app
from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.http.auth import host_allowlist
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.memory import InMemoryStore
from codex_runner.web import AdminSessions, admin_access, admin_router
from codex_runner.workspace.memory import InMemoryWorkspaces

TOKEN = "web-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PORT = 8765
ORIGIN = f"http://127.0.0.1:{PORT}"


@dataclass
class Site:
    app: Starlette
    service: TaskService
    store: InMemoryStore
    sessions: AdminSessions
    plain_dir: Path

    def client(self, base_url: str = ORIGIN) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=base_url, follow_redirects=False
        )


def make_site(tmp_path: Path, **sessions_kw: Any) -> Site:
    store = InMemoryStore()
    bus = EventBus()
    runtime = ScriptedRuntime(lambda _text: complete)
    service = TaskService(
        store,
        runtime,
        InMemoryWorkspaces(tmp_path / "worktrees"),
        bus,
        max_concurrent=2,
        approval_timeout_s=30.0,
    )
    sessions = AdminSessions(**sessions_kw)
    app = create_app(
        service,
        token=TOKEN,
        ready=lambda: True,
        routers=[admin_router(service, bus, token=TOKEN, sessions=sessions)],
        browser=admin_access(sessions),
        allowed_hosts=host_allowlist("127.0.0.1", PORT),
    )
    plain = tmp_path / "plain"
    plain.mkdir(exist_ok=True)
    return Site(app, service, store, sessions, plain)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


@dataclass
class Browser:
    """A client holding a session cookie, and the page's CSRF token."""

    client: httpx.AsyncClient
    csrf: str


async def log_in(client: httpx.AsyncClient) -> str:
    """Log in with the token form; the CSRF token from the page's meta tag."""
    response = await client.post("/admin/login", data={"token": TOKEN}, headers={"Origin": ORIGIN})
    assert response.status_code == 303, response.text
    page = await client.get("/admin/")
    assert page.status_code == 200
    marker = '<meta name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


@pytest.fixture
async def browser(site: Site) -> AsyncIterator[Browser]:
    async with site.client() as client:
        yield Browser(client, await log_in(client))
