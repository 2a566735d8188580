"""The tasks view with 1,000 tasks in the store, in Chromium: one page at a time, filters,
paging. The API runs in-process over the in-memory fakes (the scheduler is not started, so
the tasks stay queued)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Page, expect

from codex_runner.api.app import create_app
from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.domain.task import WorkspaceRequest
from codex_runner.http.auth import host_allowlist
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.service.validation import PRIORITY_MAX
from codex_runner.store.memory import InMemoryStore
from codex_runner.web import AdminSessions, admin_access, admin_router
from codex_runner.workspace.memory import InMemoryWorkspaces

TOKEN = "scale-test-token-0123456789"
TASKS = 1000
START_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, TaskService]]:
    store = InMemoryStore()
    bus = EventBus()
    service = TaskService(
        store,
        ScriptedRuntime(lambda _text: complete),
        InMemoryWorkspaces(tmp_path / "worktrees"),
        bus,
        max_concurrent=1,
        approval_timeout_s=30.0,
    )
    sessions = AdminSessions()
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(
        service,
        token=TOKEN,
        ready=lambda: True,
        routers=[admin_router(service, bus, token=TOKEN, sessions=sessions)],
        browser=admin_access(sessions),
        allowed_hosts=host_allowlist("127.0.0.1", port),
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}", service
    finally:
        app.state.event_streams.close_all()
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
        sock.close()


@pytest.mark.timeout(180)
async def test_the_tasks_view_pages_through_1000_tasks(
    tmp_path: Path, page: Page, screenshots: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    async with served(tmp_path) as (url, service):
        for n in range(TASKS):
            await service.submit(
                f"task number {n}", WorkspaceRequest.directory(str(plain)), priority=n
            )
        await page.goto(f"{url}/admin/login")
        await page.fill("#token", TOKEN)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(f"{url}/admin/")
        rows = page.locator("#tasks tbody tr")
        await expect(rows).to_have_count(50)
        await expect(page.locator("#page-info")).to_have_text("1-50 of 1000")
        await expect(page.locator('[data-count="queued"]')).to_have_text("1000")
        await page.screenshot(path=screenshots / "tasks-1000.png", full_page=True)
        first_page = await rows.first.get_attribute("data-task-id")
        await page.click("#next")
        await expect(page.locator("#page-info")).to_have_text("51-100 of 1000")
        await expect(rows.first).not_to_have_attribute("data-task-id", first_page or "")
        await page.click('#filters [data-state="completed"]')
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("No tasks.")
        await page.click('#filters [data-state="queued"]')
        await expect(page.locator("#page-info")).to_have_text("1-50 of 1000")
        # A task submitted meanwhile shows up live, with no reload.
        await page.click('#filters [data-state=""]')
        await service.submit(
            "the newest", WorkspaceRequest.directory(str(plain)), priority=PRIORITY_MAX
        )
        await expect(page.locator("#page-info")).to_have_text("1-50 of 1001")
