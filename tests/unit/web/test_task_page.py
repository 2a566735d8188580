"""The task page offers only the actions its task's state allows, as the transition table
says, and names no icon the daemon would have to serve."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.domain.transitions import user_actions
from codex_runner.web.routes import user_actions_by_state

from .conftest import Browser, Site


class _TaskPage(HTMLParser):
    """The parts of a rendered task page these tests read."""

    def __init__(self) -> None:
        super().__init__()
        self.buttons: dict[str, bool] = {}  # user action -> shown
        self.user_actions: dict[str, list[str]] = {}
        self.icons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "button" and found.get("data-user-action"):
            self.buttons[str(found["data-user-action"])] = "hidden" not in found
        if tag == "body":
            self.user_actions = json.loads(found.get("data-user-actions") or "{}")
        if tag == "link" and found.get("rel") == "icon":
            self.icons.append(str(found.get("href")))


async def _task_page(browser: Browser, task_id: str) -> _TaskPage:
    response = await browser.client.get(f"/admin/tasks/{task_id}")
    assert response.status_code == 200, response.text
    parsed = _TaskPage()
    parsed.feed(response.text)
    return parsed


def test_the_actions_per_state_are_the_transition_tables_user_actions() -> None:
    by_state = user_actions_by_state()
    assert set(by_state) == {state.value for state in TaskState}
    for state in TaskState:
        assert by_state[state.value] == [a.value for a in user_actions(state)]
    assert by_state["completed"] == ["message"]
    assert by_state["cancelled"] == []


async def test_a_task_page_shows_only_the_actions_its_state_allows(
    site: Site, browser: Browser
) -> None:
    task = await site.service.submit("wait here", WorkspaceRequest(cwd=str(site.plain_dir)))
    queued = await _task_page(browser, task.id)
    assert queued.buttons == {
        "interrupt": False,
        "resume": False,
        "cancel": True,
        "message": False,
    }
    assert queued.user_actions == user_actions_by_state()

    await site.service.cancel(task.id)
    cancelled = await _task_page(browser, task.id)
    assert set(cancelled.buttons) == {"interrupt", "resume", "cancel", "message"}
    assert not any(cancelled.buttons.values())


async def test_the_page_carries_its_own_icon(browser: Browser) -> None:
    response = await browser.client.get("/admin/")
    parsed = _TaskPage()
    parsed.feed(response.text)
    (icon,) = parsed.icons
    assert icon.startswith("data:image/svg+xml,")  # the browser then asks for no /favicon.ico
