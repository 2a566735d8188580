"""The admin page's overview in headless Chromium: charts drawn on the server from the
store after tasks ran on the real Codex, both windows, no failed request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ..daemon.conftest import StartDaemon
from ..daemon.harness import TERMINAL, wait_state
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance


async def test_the_overview_charts_the_tasks_that_ran(
    start_daemon: StartDaemon, page: Page, tmp_path: Path, screenshots: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        for prompt in ("quick one", "quick two"):
            response = await client.post("/v1/tasks", json={"prompt": prompt, "cwd": str(tmp_path)})
            done = await wait_state(client, response.json()["id"], TERMINAL)
            assert done["state"] == "completed", done
        refused = await client.get("/admin/overview", params={"window": "1y"})
        assert refused.status_code == 400
        assert "24h, 7d" in refused.json()["error"]["message"]

    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    await page.click("#nav-overview")
    await expect(page.locator("h1")).to_have_text("Overview")
    # A page drawn on the server follows no live feed: no "connecting…" that never connects.
    await expect(page.locator("#live")).to_be_hidden()
    await expect(page.locator("#finished-totals")).to_contain_text("completed: 2")
    # One bar for the hour both tasks finished in; p50 and p95 of the turns of that hour.
    assert await page.locator("#chart-finished svg rect[fill='#2f5fa7'] title").count() == 1
    await expect(page.locator("#chart-finished svg title").first).to_contain_text(
        "Tasks finished per hour"
    )
    await expect(page.locator("#chart-turns circle")).to_have_count(2)
    await expect(page.locator("#chart-tokens svg")).to_be_visible()
    # The first visit started the disk walk; a reload soon shows it.
    async with asyncio.timeout(30):
        while not await page.locator("#chart-disk svg").count():
            await page.reload()
    # A bar per kind of docs/disk.md, Codex's rollouts among them.
    for kind in ("worktrees", "logs", "sessions", "codex_sessions", "store"):
        await expect(page.locator("#chart-disk svg")).to_contain_text(kind)
    await expect(page.locator("#disk-free")).to_contain_text("in dry-run")
    box = await page.locator("#chart-finished svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    await page.screenshot(path=screenshots / "overview-24h.png", full_page=True)

    await page.click("text=last 7d")
    await expect(page.locator(".windows a.active")).to_have_text("last 7d")
    await expect(page.locator("#finished-totals")).to_contain_text("completed: 2")
    await page.screenshot(path=screenshots / "overview-7d.png", full_page=True)
    trouble.assert_none()
