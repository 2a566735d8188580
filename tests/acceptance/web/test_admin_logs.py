"""The admin page's log tail in headless Chromium against the real daemon: the runner's
log from a level up, one task's log filling live as the task moves on, no failed request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ..daemon.conftest import StartDaemon
from ..daemon.harness import wait_state
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance


async def test_the_log_tail_filters_by_level_and_task_and_follows_live(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    trouble = PageTrouble.watch(page)
    await page.goto(f"{daemon.url}/admin/login")
    await log_in(page, daemon)

    await page.click("#nav-logs")
    rows = page.locator("#log tbody tr")
    await expect(rows.filter(has_text="daemon ready")).to_have_count(1)
    await expect(page.locator("#live")).to_have_text("live")
    await page.screenshot(path=screenshots / "logs-runner.png", full_page=True)

    # From warning up, the info line goes; what is shown is only warning and above.
    await page.select_option("#log-level", "warning")
    await page.click("#log-filters button[type=submit]")
    await expect(page).to_have_url(f"{daemon.url}/admin/logs?level=warning&task=")
    await expect(page.locator("#live")).to_have_text("live")
    await expect(rows.filter(has_text="daemon ready")).to_have_count(0)
    shown = await rows.evaluate_all("nodes => nodes.map(n => n.dataset.level)")
    assert set(shown) <= {"warning", "error", "critical"}, shown

    # One task's log, open while the task waits for an approval, then following it live.
    async with daemon.client() as client:
        body = {"prompt": "web approve", "repo": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        await wait_state(client, task["id"], {"awaiting_approval"})
        await page.goto(f"{daemon.url}/admin/logs?level=info&task={task['id']}")
        await expect(rows.filter(has_text=re.compile(r"#\d+ approval\.requested"))).to_have_count(1)
        await expect(rows.filter(has_text=re.compile(r"#\d+ approval\.decided"))).to_have_count(0)
        (approval,) = (await client.get("/v1/approvals")).json()["approvals"]
        decision = {"decision": approval["available_decisions"][0]}
        await client.post(f"/v1/approvals/{approval['id']}", json=decision)
    await expect(rows.filter(has_text=re.compile(r"#\d+ approval\.decided"))).to_have_count(1)
    await expect(rows.filter(has_text="#1 task.created")).to_have_count(1)
    await page.screenshot(path=screenshots / "logs-task.png", full_page=True)
    trouble.assert_none()
