"""The Auth profiles and Operations pages in headless Chromium against the real daemon:
upload an auth.json, activate it (Codex restarts on it), delete a profile, refused deletes
shown in the notice; then the Operations page's runtime, bridges, pending approval, disk
bars and log tail with its level filter."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ..daemon.conftest import StartDaemon
from ..daemon.harness import wait_state
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance

SECRET = "sk-web-upload-never-shown-0123"
DISK_DEADLINE_S = 30.0


async def upload(page: Page, name: str, content: dict[str, object]) -> None:
    await page.fill("#upload-name", name)
    await page.set_input_files(
        "#upload-file",
        files=[
            {
                "name": "auth.json",
                "mimeType": "application/json",
                "buffer": json.dumps(content).encode(),
            }
        ],
    )
    await page.click("#profile-upload button[type=submit]")


async def test_auth_profiles_and_operations_pages(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)

    # Auth profiles: upload two, activate one (idle: at once), delete the other.
    await page.click("#nav-profiles")
    rows = page.locator("#profiles tbody tr")
    await expect(rows).to_have_count(1)  # default
    await upload(page, "work", {"OPENAI_API_KEY": SECRET})
    await expect(page.locator("#notice")).to_have_text("uploaded the auth.json of profile work")
    await upload(page, "spare", {"OPENAI_API_KEY": SECRET})
    await expect(rows).to_have_count(3)
    work = page.locator('tr[data-profile="work"]')
    await expect(work).to_contain_text("API key")
    await work.locator("button.activate").click()
    await expect(page.locator("#notice")).to_have_text("switched to auth profile 'work'")
    await expect(work).to_contain_text("active")
    await expect(work.locator("button.activate")).to_be_disabled()
    assert SECRET not in await page.content()

    page.on("dialog", lambda dialog: dialog.accept())  # Delete asks first
    await work.locator("button.delete").click()  # the active one: refused, said why
    await expect(page.locator("#notice")).to_contain_text("is active")
    await expect(page.locator("#notice")).to_have_class("notice error")
    await page.locator('tr[data-profile="spare"] button.delete').click()
    await expect(page.locator("#notice")).to_have_text("deleted auth profile spare")
    await expect(rows).to_have_count(2)
    await page.screenshot(path=screenshots / "profiles.png", full_page=True)
    async with daemon.client() as client:
        state = (await client.get("/v1/auth/profiles")).json()
        assert state["active"] == "work"

        # An approval waits, so the Operations page has one to show.
        body = {"prompt": "web approve", "repo": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        await wait_state(client, task["id"], {"awaiting_approval"})

    await page.click("#nav-operations")
    await expect(page.locator('#ops-runtime dd[data-fact="runtime"]')).to_have_text(
        "app-server · ready"
    )
    await expect(page.locator('#ops-runtime dd[data-fact="Codex version"]')).not_to_have_text(
        "unknown"
    )
    await expect(page.locator("#ops-no-bridges")).to_be_visible()
    await expect(page.locator("#ops-approvals")).to_contain_text("1 waiting")
    await expect(
        page.locator(f'#ops-approvals a[href="/admin/tasks/{task["id"]}"]')
    ).to_be_visible()
    await _until_disk_measured(page)
    log_rows = page.locator("#ops-log tbody tr")
    await expect(log_rows.filter(has_text="daemon ready")).to_have_count(1)
    await page.select_option("#ops-log-level", "warning")
    await expect(log_rows.filter(has_text="daemon ready")).to_have_count(0)
    shown = await log_rows.evaluate_all("nodes => nodes.map(n => n.dataset.level)")
    assert set(shown) <= {"warning", "error", "critical"}, shown
    await page.screenshot(path=screenshots / "operations.png", full_page=True)
    # The refused delete answered 409 on purpose (the console says so too); nothing else
    # went wrong.
    assert [r for r in trouble.error_responses if "/v1/auth/profiles/work" not in r] == []
    assert [e for e in trouble.console_errors if "409 (Conflict)" not in e] == []
    assert trouble.failed_requests == []


async def _until_disk_measured(page: Page) -> None:
    """The first disk measure runs in the background from the daemon's start: reload until
    the bars are drawn (bounded)."""
    async with asyncio.timeout(DISK_DEADLINE_S):
        while not await page.locator("#ops-disk").count():
            await page.wait_for_timeout(200)
            await page.reload()
    await expect(page.locator("#ops-disk")).to_contain_text("worktrees")
