"""The admin page shows an answer and a command's output growing as Codex streams them (the
real codex binary, the scripted model streaming in pieces, headless Chromium), and each
item's durable entry once it completes."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ..daemon.conftest import StartDaemon
from .conftest import WEB_STREAMED_ANSWER
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance

# Installed before the page's own scripts: after every change to the timeline it notes what
# each growing block shows, and whether the item's completed entry was on the page then.
RECORD_STREAMING = """
window.__streamed = [];
document.addEventListener("DOMContentLoaded", () => {
  const timeline = document.getElementById("timeline");
  if (!timeline) return;
  new MutationObserver(() => {
    for (const block of timeline.querySelectorAll(".streaming-text")) {
      const host = block.closest("li");
      window.__streamed.push({
        kind: host.dataset.kind || (host.dataset.runningItem ? "command_output" : ""),
        text: block.textContent,
        completed: timeline.querySelectorAll('[data-type="codex.item.completed"]').length,
      });
    }
  }).observe(timeline, { childList: true, subtree: true, characterData: true });
});
"""


async def test_the_timeline_shows_an_answer_growing_then_its_completed_item_once(
    start_daemon: StartDaemon, page: Page, repo: Path
) -> None:
    daemon = await start_daemon()
    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    await page.add_init_script(RECORD_STREAMING)
    async with daemon.client() as client:
        body = {"prompt": "web stream", "repo": str(repo), "approval_policy": "untrusted"}
        task = (await client.post("/v1/tasks", json=body)).json()
    await page.goto(f"{daemon.url}/admin/tasks/{task['id']}")
    # The command waits for its approval, so the page is open before anything streams.
    await expect(page.locator("#task-state")).to_have_text("awaiting_approval")
    timeline = page.locator("#timeline")
    completed_before = await timeline.locator('[data-type="codex.item.completed"]').count()
    async with daemon.client() as client:
        (approval,) = (await client.get("/v1/approvals")).json()["approvals"]
        decided = await client.post(f"/v1/approvals/{approval['id']}", json={"decision": "accept"})
        assert decided.status_code == 200, decided.text

    await expect(page.locator("#task-state")).to_have_text("completed")
    answer = timeline.locator(".event.agent:not(.streaming)").filter(has_text=WEB_STREAMED_ANSWER)
    await expect(answer).to_have_count(1)
    await expect(timeline.locator("[data-streaming-item]")).to_have_count(0)
    # The final text is on the page once: no growing block was left beside the durable one.
    shown = await timeline.inner_text()
    assert shown.count(WEB_STREAMED_ANSWER) == 1

    streamed = await page.evaluate("window.__streamed")
    answers = [s for s in streamed if s["kind"] == "agent_message"]
    # Partial text was on the page, growing, while the answer was still streaming: a piece
    # shorter than the answer, which it begins, before the answer's item completed.
    partial = [
        s["text"]
        for s in answers
        if s["text"]
        and WEB_STREAMED_ANSWER.startswith(s["text"].strip())
        and len(s["text"].strip()) < len(WEB_STREAMED_ANSWER)
    ]
    assert partial, f"no partial answer was shown: {answers}"
    assert all(WEB_STREAMED_ANSWER.startswith(s["text"].strip()) for s in answers)
    # The command's output grew on the page before the command completed (Codex's own
    # exec tool returns the output of its first moments with the item, and streams the rest).
    outputs = [s for s in streamed if s["kind"] == "command_output"]
    assert any(
        "second piece" in s["text"] and s["completed"] == completed_before for s in outputs
    ), f"no command output was shown before the command completed: {outputs}"
    command = timeline.locator('[data-type="codex.item.completed"].command')
    await expect(command).to_contain_text("exit 0")
    trouble.assert_none()
