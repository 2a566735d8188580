"""The admin page's hosts panel in headless Chromium against the real daemon (SQLite: one
host, its own): drained and undrained from the page once confirmed, refreshed on its own
when another interface drains it, the host of a task that ran on its list and page, and a
host that stopped beating shown dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, expect

from codex_runner.domain.hosts import Host
from codex_runner.store.sql import DEFAULT_FILENAME, SqlStore

from ..daemon.conftest import StartDaemon
from ..daemon.harness import TERMINAL, wait_state
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance


async def test_the_hosts_panel_drains_and_undrains_this_host_and_tasks_show_their_host(
    start_daemon: StartDaemon, page: Page, tmp_path: Path, screenshots: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        response = await client.post(
            "/v1/tasks", json={"prompt": "quick one", "cwd": str(tmp_path)}
        )
        task = await wait_state(client, response.json()["id"], TERMINAL)
        assert task["state"] == "completed", task
        (host,) = (await client.get("/v1/hosts")).json()["hosts"]
    assert host["this_host"] and task["host_id"] == host["id"], (host, task)
    row = page.locator(f'#hosts tbody tr[data-host-id="{host["id"]}"]')

    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    await page.click("nav >> text=Runtime")
    await expect(row).to_have_attribute("data-host-state", "live")
    await expect(row.locator(".label.this-host")).to_have_text("this host")
    await expect(row).to_contain_text(host["hostname"])
    await expect(row).to_contain_text(host["version"])
    await expect(row.locator("[data-host-running]")).to_have_text("0")

    questions: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.dismiss()

    async def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        await dialog.accept()

    # Dismissed: nothing is sent, the host stays live.
    page.once("dialog", dismiss)
    await row.locator('button[data-host-action="drain"]').click()
    assert questions and host["id"] in questions[-1]
    async with daemon.client() as client:
        assert not (await client.get("/v1/hosts")).json()["hosts"][0]["draining"]
    await expect(row).to_have_attribute("data-host-state", "live")

    page.once("dialog", accept)
    await row.locator('button[data-host-action="drain"]').click()
    await expect(row).to_have_attribute("data-host-state", "draining")
    await expect(row.locator(".state")).to_have_text("draining")
    async with daemon.client() as client:
        assert (await client.get("/v1/hosts")).json()["hosts"][0]["draining"]
    await page.screenshot(path=screenshots / "hosts-draining.png", full_page=True)

    page.once("dialog", accept)
    await row.locator('button[data-host-action="undrain"]').click()
    await expect(row).to_have_attribute("data-host-state", "live")
    async with daemon.client() as client:
        assert not (await client.get("/v1/hosts")).json()["hosts"][0]["draining"]
        # Drained through the API: the panel shows it at its next refresh, no reload.
        drained = await client.post(f"/v1/hosts/{host['id']}/drain")
        assert drained.status_code == 200, drained.text
    await expect(row).to_have_attribute("data-host-state", "draining")
    assert len(questions) == 3

    await page.click("#nav-tasks")
    label = page.locator(f'#tasks tr[data-task-id="{task["id"]}"] .label.host')
    await expect(label).to_have_text(host["id"])
    await page.click(f'#tasks a[href="/admin/tasks/{task["id"]}"]')
    await expect(page.locator('dd[data-fact="host"]')).to_have_text(host["id"])
    await page.locator('dd[data-fact="host"] a').click()
    await expect(row).to_be_visible()
    trouble.assert_none()


async def test_a_host_silent_past_its_lease_shows_as_dead_without_a_drain_button(
    start_daemon: StartDaemon, page: Page
) -> None:
    daemon = await start_daemon()
    # Another host that shared this store once and stopped beating an hour ago: this
    # daemon's next heartbeat finds it dead, and the panel's next refresh shows that.
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    gone = Host("gone-host", "elsewhere", "0.0.9", 2, long_ago, long_ago)
    async with await SqlStore.open(daemon.home / DEFAULT_FILENAME, readers=1) as store:
        await store.save_host(gone)

    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    await page.goto(f"{daemon.url}/admin/runtime")
    row = page.locator('#hosts tbody tr[data-host-id="gone-host"]')
    await expect(row).to_have_attribute("data-host-state", "dead")
    await expect(row).to_contain_text("elsewhere")
    await expect(row).to_contain_text("0.0.9")
    await expect(row).to_contain_text("h ago")
    await expect(row.locator("button")).to_have_count(0)
    await expect(row.locator(".label.this-host")).to_have_count(0)
    this_host = page.locator('#hosts tbody tr[data-host-state="live"]')
    await expect(this_host.locator(".label.this-host")).to_have_text("this host")
    await expect(this_host.locator('button[data-host-action="drain"]')).to_be_visible()
    trouble.assert_none()
