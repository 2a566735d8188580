"""The admin page in headless Chromium against the real daemon, real codex and the scripted
model: log in, submit, watch the timeline fill, approve, see the diff; interrupt and
resume; other interfaces deciding first; model output never runs as HTML; the timeline in
the events' order; only the actions a task's state allows; no failed request or console
error on any view."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, Request, Response, expect

from ..daemon.conftest import StartDaemon
from ..daemon.harness import Daemon, wait_state

pytestmark = pytest.mark.acceptance

LINK_TIMEOUT_S = 30.0


async def login_link(daemon: Daemon) -> str:
    """The one-time login link that ``serve`` printed."""
    async with asyncio.timeout(LINK_TIMEOUT_S):
        while True:
            found = re.search(r"Admin page: (\S+)", daemon.log.read_text())
            if found:
                return found.group(1)
            await asyncio.sleep(0.05)  # the daemon's log file: there is no event to wait on


@dataclass
class PageTrouble:
    """What the browser reports that a page should never cause: console errors, requests
    that failed, responses that are errors (a missing favicon is one)."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_responses: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> PageTrouble:
        trouble = cls()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                trouble.console_errors.append(message.text)

        def on_failed(request: Request) -> None:
            # Leaving a page aborts what it still had open (its live streams, a refresh on
            # the way); the page itself never aborts a request.
            if request.failure == "net::ERR_ABORTED":
                return
            trouble.failed_requests.append(f"{request.url}: {request.failure}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                trouble.error_responses.append(f"{response.status} {response.url}")

        page.on("console", on_console)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        return trouble

    def assert_none(self) -> None:
        assert (self.console_errors, self.failed_requests, self.error_responses) == ([], [], [])


async def timeline_entries(page: Page) -> list[tuple[int, str]]:
    """The timeline's entries as shown, top to bottom: (seq, what: the event type, or
    "command" for a command)."""
    # Only the events' entries: a block still growing from live deltas has no seq.
    entries: list[list[str]] = await page.locator("#timeline > li[data-seq]").evaluate_all(
        "nodes => nodes.map(n => [n.dataset.seq,"
        " n.classList.contains('command') ? 'command' : n.dataset.type])"
    )
    return [(int(seq), what) for seq, what in entries]


async def shown_actions(page: Page) -> list[str]:
    """The task's action buttons the page shows."""
    return await page.locator("[data-user-action]:visible").evaluate_all(
        "nodes => nodes.map(n => n.dataset.userAction)"
    )


async def log_in(page: Page, daemon: Daemon) -> None:
    await page.goto(await login_link(daemon))
    await expect(page).to_have_url(f"{daemon.url}/admin/")
    await expect(page.locator("#live")).to_have_text("live")


async def test_submit_watch_approve_and_see_the_diff(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon()
    await page.goto(f"{daemon.url}/admin/login")
    await page.screenshot(path=screenshots / "login.png")
    link = await login_link(daemon)
    await log_in(page, daemon)
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as anonymous:
        reused = await anonymous.get(link)
        assert reused.status_code == 401  # the link worked once
        assert "set-cookie" not in reused.headers
    token = (daemon.home / "api-token").read_text().strip()
    assert token not in await page.content()
    assert token not in page.url

    await page.select_option("#where-kind", "repo")
    await page.fill("#where", str(repo))
    await page.fill("#prompt", "web approve")
    await page.select_option("#approval-policy", "untrusted")
    await page.click("#submit")
    await expect(page).to_have_url(re.compile(r"/admin/tasks/"))
    task_id = page.url.rsplit("/", 1)[1]

    # The timeline fills live while the task runs, up to the approval it waits on.
    timeline = page.locator("#timeline")
    await expect(timeline.locator('[data-type="task.created"]')).to_contain_text("web approve")
    await expect(timeline.locator('[data-type="approval.requested"]')).to_contain_text(
        "echo approved > approved.txt"
    )
    await expect(page.locator("#task-state")).to_have_text("awaiting_approval")
    async with daemon.client() as client:
        (approval,) = (await client.get("/v1/approvals")).json()["approvals"]
    card = page.locator(f'#task-approvals [data-approval-id="{approval["id"]}"]')
    await expect(card.locator("button.decide")).to_have_text(approval["available_decisions"])
    await expect(page.locator("#approval-count")).to_have_text("1")
    await page.screenshot(path=screenshots / "task-awaiting-approval.png", full_page=True)

    await page.goto(f"{daemon.url}/admin/approvals")
    listed = page.locator(f'#approvals [data-approval-id="{approval["id"]}"]')
    await expect(listed).to_contain_text("echo approved > approved.txt")
    await page.screenshot(path=screenshots / "approvals.png", full_page=True)

    await page.goto(f"{daemon.url}/admin/tasks/{task_id}")
    await card.locator('button[data-decision="accept"]').click()
    await expect(page.locator("#task-state")).to_have_text("completed")
    await expect(card).to_have_count(0)
    await expect(timeline.locator('[data-type="approval.decided"]')).to_contain_text("accept")
    command = timeline.locator('[data-type="codex.item.completed"].command')
    await expect(command).to_contain_text("exit 0")
    agent = timeline.locator(".event.agent .markdown").last
    await expect(agent.locator("strong")).to_have_text("Approved")
    await expect(agent.locator("code")).to_have_text("approved.txt")
    await expect(agent.locator("li")).to_have_count(2)
    await expect(page.locator("#diff")).to_contain_text("approved.txt")
    await expect(page.locator("#diff")).to_contain_text("+approved")
    await expect(page.locator("#facts")).to_contain_text(f"codex-runner/{task_id}")
    await page.screenshot(path=screenshots / "task-completed.png", full_page=True)

    await page.goto(f"{daemon.url}/admin/")
    row = page.locator(f'#tasks tr[data-task-id="{task_id}"]')
    await expect(row).to_contain_text("completed")
    await expect(row).to_contain_text(f"codex-runner/{task_id}")
    await page.screenshot(path=screenshots / "tasks.png", full_page=True)

    await page.goto(f"{daemon.url}/admin/runtime")
    await expect(page.locator('[data-fact="Codex version"]')).not_to_have_text("unknown")
    await expect(page.locator('[data-fact="runtime"]')).to_contain_text("ready")
    await page.screenshot(path=screenshots / "runtime.png", full_page=True)


async def test_interrupt_and_resume_from_the_page(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon()
    await log_in(page, daemon)
    await page.select_option("#where-kind", "cwd")
    await page.fill("#where", str(repo))
    await page.fill("#prompt", "slow")
    await page.click("#submit")
    await expect(page).to_have_url(re.compile(r"/admin/tasks/"))
    timeline = page.locator("#timeline")
    await expect(timeline.locator('[data-type="codex.turn.started"]')).to_have_count(1)
    await expect(page.locator("#task-state")).to_have_text("running")
    assert await shown_actions(page) == ["interrupt", "cancel"]

    await page.click("#interrupt")
    await expect(page.locator("#task-state")).to_have_text("interrupted")
    await expect(page.locator("#resume")).to_be_visible()
    assert await shown_actions(page) == ["resume", "cancel", "message"]
    await expect(timeline.locator('[data-type="task.state_changed"]').last).to_contain_text(
        "interrupted"
    )
    await page.screenshot(path=screenshots / "task-interrupted.png", full_page=True)

    await page.click("#resume")
    await expect(page.locator("#task-state")).to_have_text("completed")
    await expect(timeline.locator(".event.agent").last).to_contain_text("resumed and done")
    await expect(timeline.locator('[data-type="codex.turn.started"]')).to_have_count(2)
    assert await shown_actions(page) == ["message"]
    await page.screenshot(path=screenshots / "task-resumed.png", full_page=True)


async def test_the_approvals_view_follows_a_decision_made_elsewhere(
    start_daemon: StartDaemon, page: Page, repo: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    await log_in(page, daemon)
    await page.goto(f"{daemon.url}/admin/approvals")
    await expect(page.locator("#no-approvals")).to_be_visible()
    async with daemon.client() as client:
        body = {"prompt": "touch approved", "cwd": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        card = page.locator("#approvals .approval")
        await expect(card).to_contain_text("touch approved.txt")  # arrived live
        (approval,) = (await client.get("/v1/approvals")).json()["approvals"]
        await expect(card.locator("button.decide")).to_have_text(approval["available_decisions"])
        decided = await client.post(
            f"/v1/approvals/{approval['id']}", json={"decision": "accept", "by": "cli"}
        )
        assert decided.status_code == 200, decided.text
        await expect(card).to_have_count(0)
        await expect(page.locator("#no-approvals")).to_be_visible()
        await wait_state(client, task["id"], {"completed", "failed", "interrupted"})


async def test_model_output_is_shown_as_text_never_run(
    start_daemon: StartDaemon, page: Page, repo: Path
) -> None:
    daemon = await start_daemon()
    hostile = (
        "what did I say <script>window.__xss = 1</script>"
        ' <img src=x onerror="window.__xss = 2"> [x](javascript:alert(1))'
    )
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": hostile, "cwd": str(repo)})).json()
        await wait_state(client, task["id"], {"completed"})
    await log_in(page, daemon)
    await page.goto(f"{daemon.url}/admin/tasks/{task['id']}")
    agent = page.locator("#timeline .event.agent .markdown")
    await expect(agent).to_contain_text("<script>window.__xss = 1</script>")
    await expect(agent).to_contain_text('<img src=x onerror="window.__xss = 2">')
    assert await page.locator("#timeline script, #timeline img").count() == 0
    assert await agent.locator("a").count() == 0  # only http(s) links become links
    assert await page.evaluate("window.__xss") is None


async def test_a_graph_is_drawn_with_each_nodes_state(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        body = {
            "cwd": str(repo),
            "children": [
                {"key": "a", "prompt": "quick a"},
                {"key": "b", "prompt": "quick b", "depends_on": ["a"]},
                {"key": "c", "prompt": "quick c", "depends_on": ["a"]},
            ],
        }
        graph = (await client.post("/v1/graphs", json=body)).json()
    await log_in(page, daemon)
    await page.goto(f"{daemon.url}/admin/graphs")
    await page.click(f'a[href="/admin/graphs/{graph["id"]}"]')
    nodes = page.locator("#graph a.node")
    await expect(nodes).to_have_count(4)
    await expect(page.locator("#graph .edge.depends")).to_have_count(2)
    await expect(page.locator('#graph a.node[data-state="completed"]')).to_have_count(4)
    await expect(page.locator("#graph-state")).to_have_text("completed")
    await page.screenshot(path=screenshots / "graph.png", full_page=True)


async def test_the_timeline_shows_an_approval_before_the_command_it_gated(
    start_daemon: StartDaemon, page: Page, repo: Path, screenshots: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    async with daemon.client() as client:
        body = {"prompt": "web approve", "cwd": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        await wait_state(client, task["id"], {"awaiting_approval"})
    await page.goto(f"{daemon.url}/admin/tasks/{task['id']}")
    timeline = page.locator("#timeline")
    requested = timeline.locator('[data-type="approval.requested"]')
    await expect(requested).to_contain_text("echo approved > approved.txt")
    # Codex started the command's item before asking: it waits, it does not run.
    await expect(timeline.locator(".event.command")).to_have_count(0)
    await expect(page.locator("#task-state")).to_have_text("awaiting_approval")
    assert await shown_actions(page) == ["interrupt", "cancel"]

    await page.locator('#task-approvals button[data-decision="accept"]').click()
    await expect(page.locator("#task-state")).to_have_text("completed")
    command = timeline.locator('[data-type="codex.item.completed"].command')
    await expect(command).to_contain_text("exit 0")
    await expect(timeline.locator(".event.agent")).to_contain_text("Approved")
    assert await shown_actions(page) == ["message"]  # no Interrupt, Resume or Cancel
    await page.screenshot(path=screenshots / "task-approved.png", full_page=True)

    # Live, and again from the stored events: the events' order, the approval first.
    for _ in ("live", "reloaded"):
        await expect(timeline.locator(".event.agent")).to_contain_text("Approved")
        shown = await timeline_entries(page)
        seqs = [seq for seq, _what in shown]
        assert seqs == sorted(seqs), shown
        order = [what for _seq, what in shown]
        assert order.index("approval.requested") < order.index("approval.decided"), shown
        assert order.index("approval.decided") < order.index("command"), shown
        await expect(command).to_have_count(1)
        assert await shown_actions(page) == ["message"]
        await page.reload()
    trouble.assert_none()


async def test_every_view_loads_without_a_failed_request_or_a_console_error(
    start_daemon: StartDaemon, page: Page, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        await wait_state(client, task["id"], {"completed"})
    trouble = PageTrouble.watch(page)
    icons: dict[str, str | None] = {}
    await page.goto(f"{daemon.url}/admin/login")
    await log_in(page, daemon)
    views = ["/admin/", f"/admin/tasks/{task['id']}", "/admin/approvals", "/admin/graphs"]
    for view in [*views, "/admin/runtime"]:
        await page.goto(f"{daemon.url}{view}")
        await expect(page.locator("#live")).to_have_text("live")
        icon = page.locator('link[rel="icon"]')
        icons[view] = await icon.get_attribute("href") if await icon.count() else None
    await expect(page.locator('[data-fact="runtime"]')).to_contain_text("ready")
    # The browser's own request for a favicon is no page's request: when it fails, the
    # page hears of it only as a console error ("Failed to load resource").
    trouble.assert_none()
    for view, href in icons.items():
        assert href is not None and href.startswith("data:image/svg+xml,"), (view, href)
