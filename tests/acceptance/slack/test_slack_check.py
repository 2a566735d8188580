"""``codex-runner slack check`` against the fake Slack."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from codex_runner.bridges.slack.check import check_slack

from .fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack

pytestmark = pytest.mark.acceptance


async def test_check_passes_with_every_scope(fake_slack: FakeSlack) -> None:
    report = await check_slack(APP_TOKEN, BOT_TOKEN, fake_slack.api_url)
    assert report.ok, report.problems
    assert any("every scope" in line for line in report.ok_lines)


async def test_check_names_missing_scopes_and_bad_tokens(fake_slack: FakeSlack) -> None:
    fake_slack.scopes = "app_mentions:read,channels:history"
    report = await check_slack("xapp-wrong", BOT_TOKEN, fake_slack.api_url)
    assert not report.ok
    assert any("missing scope chat:write" in p for p in report.problems)
    assert any("users:read" in w for w in report.warnings)  # degrades display names only
    assert any("apps.connections.open failed (invalid_auth)" in p for p in report.problems)
    missing = await check_slack(None, None, fake_slack.api_url)
    assert len(missing.problems) == 2


async def test_the_cli_prints_what_is_missing(fake_slack: FakeSlack, tmp_path: Path) -> None:
    fake_slack.scopes = "app_mentions:read,chat:write"
    env = {
        **os.environ,
        "CODEX_RUNNER_HOME": str(tmp_path / "home"),
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
        "COLUMNS": "200",
    }
    cli = Path(sys.executable).parent / "codex-runner"
    proc = await asyncio.create_subprocess_exec(
        str(cli), "slack", "check", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 0, text  # only non-essential scopes are missing
    assert "warning missing scope files:write" in text
    assert "ok      app token" in text
