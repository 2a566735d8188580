"""The nav's pending-approvals badge on a page that shows no approvals, and the browser
notification for a new one once the user allowed it with the button (never on load)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ..daemon.conftest import StartDaemon
from ..daemon.harness import wait_state
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance

# The browser's Notification API, recorded: headless Chromium shows no notifications and
# nobody could click its permission prompt.
FAKE_NOTIFICATIONS = """
window.__announced = [];
window.__asked = 0;
class FakeNotification {
  static permission = "default";
  static async requestPermission() {
    window.__asked += 1;
    FakeNotification.permission = "granted";
    return "granted";
  }
  constructor(title, options) {
    window.__announced.push({ title, body: options.body, tag: options.tag });
  }
}
window.Notification = FakeNotification;
"""


async def test_a_new_approval_raises_the_badge_and_is_announced_once_allowed(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    await page.add_init_script(FAKE_NOTIFICATIONS)
    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    # The first look at the approvals only learns them (Codex takes seconds to ask later).
    async with page.expect_response(lambda r: r.url.endswith("/v1/approvals")):
        await page.goto(f"{daemon.url}/admin/runtime")
    button = page.locator("#approval-alerts")
    await expect(button).to_have_text("Notify me")
    assert await page.evaluate("window.__asked") == 0  # nothing asked on load
    await button.click()
    await expect(button).to_be_hidden()
    badge = page.locator("#approval-count")
    await expect(badge).to_have_text("")

    async with daemon.client() as client:
        body = {"prompt": "touch approved", "cwd": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        await expect(badge).to_have_text("1")
        announced = await page.evaluate("window.__announced")
        await page.screenshot(path=screenshots / "approval-badge.png")
        (approval,) = (await client.get("/v1/approvals")).json()["approvals"]
        assert [(a["title"], a["tag"]) for a in announced] == [
            ("Codex asks for an approval", f"approval-{approval['id']}")
        ]
        assert "touch approved.txt" in announced[0]["body"] and task["id"] in announced[0]["body"]
        await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "accept"})
        await expect(badge).to_have_text("")
        await wait_state(client, task["id"], {"completed", "failed", "interrupted"})
    assert await page.evaluate("window.__announced.length") == 1
    trouble.assert_none()
