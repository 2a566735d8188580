"""The Releases page in headless Chromium against the real daemon, offline: an install whose
progress is followed until pip fails, a switch to a release (the pinned Codex behind another
name) that passes the scripted-model check, one to a release that cannot start and is
switched back from, a roll back, and the records of it all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from codex_runner.codex.binary import find_codex_binary
from codex_runner.mockmodel import MockModelServer

from ..daemon.harness import Daemon, write_config
from .test_admin_page import PageTrouble, log_in

pytestmark = pytest.mark.acceptance


def release(home: Path, version: str, script: str) -> None:
    package = home / "releases" / f"codex-{version}" / "codex_cli_bin"
    (package / "bin").mkdir(parents=True)
    (package / "codex-package.json").write_text("{}")
    binary = package / "bin" / "codex"
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(0o755)


@pytest.fixture
async def daemon(tmp_path: Path, daemon_model: MockModelServer) -> AsyncIterator[Daemon]:
    home = tmp_path / "home"
    write_config(home, daemon_model, service={}, codex={"approval_policy": "never"})
    offline = tmp_path / "no-wheels"
    offline.mkdir()
    with (home / "config.toml").open("a") as config:
        config.write(f'\n[releases]\npip_args = ["--no-index", "--find-links", "{offline}"]\n')
    release(home, "0.0.2", f'exec "{find_codex_binary(None)}" "$@"')  # a working Codex
    release(home, "0.0.1", "exit 3")  # one that never starts
    started = Daemon(home)
    await started.start()
    try:
        yield started
    finally:
        started.stop()


async def test_install_progress_use_failing_check_and_roll_back_on_the_releases_page(
    daemon: Daemon, page: Page, screenshots: Path
) -> None:
    trouble = PageTrouble.watch(page)
    await log_in(page, daemon)
    await page.click("#nav-releases")
    rows = page.locator("#releases tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator('tr[data-release="pinned"]')).to_contain_text("current")

    await page.fill("#install-version", "9.9.9")
    await page.click("#release-install button[type=submit]")
    progress = page.locator("#install-progress")
    await expect(progress).to_contain_text("pip install openai-codex-cli-bin==9.9.9")
    await expect(progress).to_contain_text("failed: pip exited")
    await expect(page.locator("#notice")).to_have_class("notice error")
    await expect(rows).to_have_count(3)  # nothing half-installed

    await page.locator('tr[data-release="0.0.2"] button.use').click()
    await expect(page.locator("#notice")).to_contain_text("switched from Codex")
    await expect(page.locator('tr[data-release="0.0.2"]')).to_contain_text("current")
    await expect(page.locator('tr[data-release="pinned"]')).to_contain_text("previous")

    await page.locator('tr[data-release="0.0.1"] button.use').click()
    await expect(page.locator("#notice")).to_contain_text("failed its check")
    await expect(page.locator('tr[data-release="0.0.1"]')).to_contain_text("failed")
    await expect(page.locator('tr[data-release="0.0.2"]')).to_contain_text("current")

    await page.click("#release-rollback")
    await expect(page.locator('tr[data-release="pinned"]')).to_contain_text("current")
    results = page.locator("#switches tbody td.result")
    await expect(results).to_have_text(["switched", "rolled_back", "switched"])
    await expect(page.locator("#switches tbody tr").first).to_contain_text("admin page")
    await page.screenshot(path=screenshots / "releases.png", full_page=True)
    assert trouble.error_responses == []
    assert (trouble.console_errors, trouble.failed_requests) == ([], [])
