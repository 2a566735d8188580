"""The admin page's runtime view shows the chat server link, never its token (real
headless Chromium against a linked daemon)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from ...support.chat_server import FakeChatServer
from ..web.conftest import browser, page  # noqa: F401 - the browser fixtures
from ..web.test_admin_page import login_link
from .conftest import RUNNER_ID, TOKEN, StartLinked

pytestmark = pytest.mark.acceptance


async def test_the_runtime_page_shows_the_link(
    start_linked: StartLinked,
    chat: FakeChatServer,
    page: Page,  # noqa: F811 - the fixture imported above
) -> None:
    daemon = await start_linked()
    await chat.wait_for("heartbeat")
    await page.goto(await login_link(daemon))
    await page.goto(f"{daemon.url}/admin/runtime")
    await expect(page.locator('[data-link="state"]')).to_contain_text("connected")
    await expect(page.locator('[data-link="server"]')).to_contain_text(chat.url)
    await expect(page.locator('[data-link="runner"]')).to_contain_text(RUNNER_ID)
    assert TOKEN not in await page.content()
