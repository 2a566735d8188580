"""Fixtures for the admin page in a real browser: Debian's headless Chromium driven by
Playwright, the real daemon (reusing the daemon acceptance fixtures) and the scripted model.

Playwright's own browser download needs the internet; ``make test`` installs Debian's
``chromium`` instead, and Playwright launches that binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from codex_runner.mockmodel import MockModelServer, Script

from ..daemon.conftest import DAEMON_RULES, start_daemon

__all__ = ["start_daemon"]  # the daemon fixture, over this directory's daemon_model

WEB_STREAMED_ANSWER = "The page shows this answer growing, piece by piece, as it is written."
WEB_STRUCTURED_REPLY = '{"verdict": "pass", "score": 7}'

WEB_RULES: list[dict[str, Any]] = [
    # First: resuming without new input sends this, which the daemon rules treat as poison.
    {"match": "Continue where you left off", "responses": [[{"message": "resumed and done"}]]},
    {
        "match": "web approve",
        "responses": [
            [{"shell": "echo approved > approved.txt"}],
            [{"message": "**Approved**: wrote `approved.txt`\n\n- one\n- two"}],
        ],
    },
    # Replies for turns with an output schema: one that matches it, one that does not.
    {"match": "web grade", "responses": [[{"message": WEB_STRUCTURED_REPLY}]]},
    {"match": "web ramble", "responses": [[{"message": "I would rather not answer in JSON."}]]},
    {
        # A command gated by an approval (so the page is open before anything streams),
        # whose output comes in two pieces a second apart, then an answer streamed in six.
        "match": "web stream",
        "responses": [
            [{"shell": "echo first piece; sleep 1; echo second piece"}],
            [{"message": WEB_STREAMED_ANSWER, "deltas": 6, "delta_delay": 0.3}],
        ],
    },
]

EXPECT_TIMEOUT_MS = 60_000
# Each expect(...) auto-waits up to this long: real Codex turns, not fixed sleeps.
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture
async def daemon_model() -> AsyncIterator[MockModelServer]:
    rules = [*WEB_RULES, *DAEMON_RULES]
    async with MockModelServer(Script.from_dict({"rules": rules}), port=0) as server:
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Debian's chromium is not installed: `make test` installs it "
            "(apt-get install --no-install-recommends chromium)"
        )
    # Chromium's sandbox cannot start as root (containers, CI): only then go without it.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=args, timeout=60_000
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    path = tmp_path / "screenshots"
    path.mkdir()
    return path
