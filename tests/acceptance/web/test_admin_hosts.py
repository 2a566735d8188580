"""The admin page's hosts panel in headless Chromium against the real daemon (SQLite: one
host, its own): drained and undrained from the page once confirmed, refreshed on its own
when another interface drains it, and the host of a task that ran on its list and page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Dialog, Page, expect

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
