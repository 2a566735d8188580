"""The admin page sets and shows a task's Codex options and structured results, in headless
Chromium against the real daemon, real codex and the scripted model: options sent from the
submit form reach Codex and show on the task view; errors (JSON the browser can judge, a
value the API refuses) show beside their field and lose nothing; a result and each turn's
result show with a copy button; a follow-up's own output schema and overrides; a reply that
does not match its schema; the tasks list filtered by purpose and metadata, kept in the
URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from codex_runner.mockmodel import MockModelServer

from ..daemon.conftest import StartDaemon
from ..daemon.harness import wait_state
from .conftest import WEB_STRUCTURED_REPLY
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance

SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["verdict", "score"],
    "additionalProperties": False,
}
PRETTY_RESULT = json.dumps(json.loads(WEB_STRUCTURED_REPLY), indent=2)


async def test_options_from_the_form_reach_codex_and_show_on_the_task_view(
    start_daemon: StartDaemon,
    daemon_model: MockModelServer,
    page: Page,
    repo: Path,
    screenshots: Path,
) -> None:
    daemon = await start_daemon()
    await log_in(page, daemon)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.select_option("#where-kind", "cwd")
    await page.fill("#where", str(repo))
    await page.fill("#prompt", "web grade this <b>change</b>")
    await expect(page.locator("#developer-instructions")).to_be_hidden()  # collapsed
    await page.click("#codex-options > summary")
    await page.fill("#developer-instructions", "DEV-MARK grade strictly\nsecond line")
    await page.select_option("#personality", "pragmatic")
    await page.select_option("#summary", "concise")
    await page.fill("#metadata", "ticket=T-42\n\nteam = core")
    await page.fill("#output-schema", '{"type": "object",')

    # JSON the browser can judge is refused beside its field, before anything is sent.
    await page.click("#submit")
    schema_error = page.locator('.field-error[data-error-for="output_schema"]')
    await expect(schema_error).to_contain_text("not valid JSON")
    await expect(page.locator("#output-schema")).to_have_attribute("aria-invalid", "true")
    async with daemon.client() as client:
        assert (await client.get("/v1/tasks")).json()["tasks"] == []

    # A value only the API judges: its error names the field and shows beside it.
    await page.fill("#output-schema", json.dumps(SCHEMA))
    await page.fill("#purpose", "Not A Label")
    await page.click("#submit")
    purpose_error = page.locator('.field-error[data-error-for="purpose"]')
    await expect(purpose_error).to_be_visible()
    await expect(schema_error).to_have_count(0)
    await page.screenshot(path=screenshots / "submit-error.png", full_page=True)
    await expect(page).to_have_url(f"{daemon.url}/admin/")
    # Nothing typed was lost.
    await expect(page.locator("#prompt")).to_have_value("web grade this <b>change</b>")
    await expect(page.locator("#metadata")).to_have_value("ticket=T-42\n\nteam = core")
    await expect(page.locator("#personality")).to_have_value("pragmatic")

    trouble = PageTrouble.watch(page)
    await page.fill("#purpose", "web-review")
    await page.click("#submit")
    await expect(page).to_have_url(re.compile(r"/admin/tasks/"))
    task_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#task-state")).to_have_text("completed")

    fact = lambda name: page.locator(f'#facts dd[data-fact="{name}"]')  # noqa: E731
    await expect(fact("purpose")).to_have_text("web-review")
    await expect(fact("metadata")).to_contain_text("ticketT-42")
    await expect(fact("metadata")).to_contain_text("teamcore")
    await expect(fact("personality")).to_have_text("pragmatic")
    await expect(fact("runtime")).to_contain_text("default")
    instructions = fact("developer instructions").locator("details")
    await expect(instructions).not_to_have_attribute("open", "")
    await expect(instructions.locator("summary")).to_contain_text("DEV-MARK grade strictly")
    await expect(instructions.locator("pre")).to_be_hidden()
    await instructions.locator("summary").click()
    await expect(instructions.locator("pre")).to_have_text("DEV-MARK grade strictly\nsecond line")
    await expect(fact("base instructions")).to_have_count(0)  # not set: not listed

    result = page.locator("#result")
    await expect(result).to_be_visible()
    await expect(result.locator("pre.result-json")).to_have_text(PRETTY_RESULT)
    await result.locator("button.copy").click()
    await expect(result.locator("button.copy")).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == PRETTY_RESULT
    turn = page.locator('#turns li[data-turn="1"]')
    await expect(turn).to_have_attribute("data-status", "completed")
    await expect(turn.locator("pre.result-json")).to_have_text(PRETTY_RESULT)
    await expect(page.locator("#facts b")).to_have_count(0)  # the prompt is text
    await page.screenshot(path=screenshots / "task-with-options.png", full_page=True)
    trouble.assert_none()

    (asked,) = [r for r in daemon_model.requests if "web grade this" in r.last_user_text]
    sent = json.dumps(asked.body)
    assert "DEV-MARK grade strictly" in sent
    assert '"verdict"' in sent  # the output schema
    async with daemon.client() as client:
        task = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert task["metadata"] == {"ticket": "T-42", "team": "core"}
    assert (task["purpose"], task["personality"]) == ("web-review", "pragmatic")
    assert task["base_instructions"] is None and task["ephemeral"] is False  # empty: not sent


async def test_a_follow_up_takes_its_own_schema_and_a_mismatch_shows_as_the_reason(
    start_daemon: StartDaemon, daemon_model: MockModelServer, page: Page, repo: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        await wait_state(client, task["id"], {"completed"})
    await log_in(page, daemon)
    await page.goto(f"{daemon.url}/admin/tasks/{task['id']}")
    await expect(page.locator('#turns li[data-turn="1"]')).to_have_attribute(
        "data-status", "completed"
    )
    await expect(page.locator("#result")).to_be_hidden()

    await page.fill("#input-text", "web grade the follow-up")
    await page.click("#turn-options > summary")
    await page.fill("#turn-output-schema", "[1, 2]")
    await page.click("#message")
    await expect(page.locator('.field-error[data-error-for="output_schema"]')).to_contain_text(
        "JSON object"
    )
    await page.fill("#turn-output-schema", json.dumps(SCHEMA))
    await page.select_option("#turn-effort", "low")
    await page.click("#message")
    await expect(page.locator('#turns li[data-turn="2"] pre.result-json')).to_have_text(
        PRETTY_RESULT
    )
    await expect(page.locator("#result pre.result-json")).to_have_text(PRETTY_RESULT)
    await expect(page.locator('.field-error[data-error-for="output_schema"]')).to_have_count(0)
    await expect(page.locator("#input-text")).to_have_value("")
    (asked,) = [r for r in daemon_model.requests if r.last_user_text == "web grade the follow-up"]
    assert '"verdict"' in json.dumps(asked.body)

    # A reply that does not match: the turn fails, the reason says why.
    await page.fill("#input-text", "web ramble on")
    await page.click("#message")
    await expect(page.locator("#task-state")).to_have_text("failed")
    await expect(page.locator('#facts dd[data-fact="reason"]')).to_contain_text(
        "output_schema_mismatch"
    )
    await expect(page.locator('#turns li[data-turn="3"]')).to_have_attribute(
        "data-status", "failed"
    )


async def test_the_tasks_list_filters_by_purpose_and_metadata_and_keeps_them_in_the_url(
    start_daemon: StartDaemon, page: Page, repo: Path
) -> None:
    daemon = await start_daemon()
    ids: dict[str, str] = {}
    async with daemon.client() as client:
        for purpose in ("triage", "review", None):
            metadata = {"ticket": f"T-{purpose}"}
            body = {"prompt": "quick", "cwd": str(repo), "purpose": purpose, "metadata": metadata}
            created = await client.post("/v1/tasks", json=body)
            assert created.status_code == 201, created.text
            ids[str(purpose)] = created.json()["id"]
    await log_in(page, daemon)
    rows = page.locator("#tasks tbody tr[data-task-id]")
    await expect(rows).to_have_count(3)
    triage_row = page.locator(f'#tasks tr[data-task-id="{ids["triage"]}"]')
    await expect(triage_row.locator("a.label.purpose")).to_have_text("triage")
    untagged_row = page.locator(f'#tasks tr[data-task-id="{ids["None"]}"]')
    await expect(untagged_row.locator(".label.purpose")).to_have_count(0)

    await page.fill("#purpose-filter", "review")
    await page.press("#purpose-filter", "Enter")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-task-id", ids["review"])
    await expect(page).to_have_url(f"{daemon.url}/admin/?purpose=review")

    await page.reload()
    await expect(page.locator("#purpose-filter")).to_have_value("review")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-task-id", ids["review"])

    # A state filter joins it in the URL; clearing the purpose shows every task again.
    await page.click('#filters .filter[data-state="queued"]')
    await expect(page).to_have_url(f"{daemon.url}/admin/?state=queued&purpose=review")
    await page.click('#filters .filter[data-state=""]')
    await page.fill("#purpose-filter", "")
    await page.press("#purpose-filter", "Enter")
    await expect(page).to_have_url(f"{daemon.url}/admin/")
    await expect(rows).to_have_count(3)

    # A task's purpose label lists the tasks with that purpose.
    await triage_row.locator("a.label.purpose").click()
    await expect(page).to_have_url(f"{daemon.url}/admin/?purpose=triage")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-task-id", ids["triage"])

    # A metadata value on a task's page lists the tasks with that value; its filter shows
    # on the list and goes with one click.
    await page.goto(f"{daemon.url}/admin/tasks/{ids['review']}")
    await page.locator('#facts dd[data-fact="metadata"] a').click()
    await expect(page).to_have_url(f"{daemon.url}/admin/?metadata.ticket=T-review")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-task-id", ids["review"])
    chip = page.locator('.metadata-filter[data-metadata="ticket"]')
    await expect(chip).to_contain_text("ticket=T-review")
    await chip.click()
    await expect(page).to_have_url(f"{daemon.url}/admin/")
    await expect(rows).to_have_count(3)
