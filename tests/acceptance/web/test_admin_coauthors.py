"""The Co-authors page in headless Chromium against the real daemon: edit an author (a
malformed one refused in the notice, naming the form), add one, delete one."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Dialog, Page, expect

from ..daemon.conftest import StartDaemon
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance


async def test_coauthors_are_edited_added_and_deleted_on_the_page(
    start_daemon: StartDaemon, page: Page
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        body = {"author": "Ann <ann@example.com>", "display_name": "Ann"}
        assert (await client.put("/v1/coauthors/slack/U1", json=body)).status_code == 200
    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    await page.click("#nav-coauthors")
    rows = page.locator("#coauthors tbody tr[data-user]")
    await expect(rows).to_have_count(1)
    ann = page.locator('tr[data-user="U1"]')
    await expect(ann).to_contain_text("manual")

    await ann.locator("input.author").fill("ann@example.com")
    await ann.locator("button.save").click()
    await expect(page.locator("#notice")).to_contain_text("Name <email>")
    await expect(page.locator("#notice")).to_have_class("notice error")
    await ann.locator("input.author").fill("Ann Lee <ann@home.example>")
    await ann.locator("button.save").click()
    await expect(page.locator("#notice")).to_be_hidden()  # drawn again after the change
    await expect(ann.locator("input.author")).to_have_value("Ann Lee <ann@home.example>")

    await page.fill("#add-user", "U2")
    await page.fill("#add-name", "Bob")
    await page.fill("#add-author", "Bob <bob@example.com>")
    await page.click("#coauthor-add button[type=submit]")
    await expect(rows).to_have_count(2)
    await expect(page.locator('tr[data-user="U2"]')).to_contain_text("Bob")

    page.on("dialog", lambda dialog: asyncio.ensure_future(_accept(dialog)))
    await ann.locator("button.delete").click()
    await expect(rows).to_have_count(1)
    async with daemon.client() as client:
        listed = (await client.get("/v1/coauthors")).json()["coauthors"]
    assert [(c["user"], c["author"]) for c in listed] == [("U2", "Bob <bob@example.com>")]
    # The refused author is the one error response (the browser reports it as an error).
    assert [r for r in trouble.error_responses if "/v1/coauthors/slack/U1" not in r] == []
    assert [e for e in trouble.console_errors if "status of 422" not in e] == []
    assert trouble.failed_requests == []


async def _accept(dialog: Dialog) -> None:
    await dialog.accept()
