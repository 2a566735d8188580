"""``codex-runner slack ...``: the Slack bridge's commands."""

from __future__ import annotations

import asyncio
import os

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.bridges.slack.check import check_slack
from codex_runner.bridges.slack.settings import api_base_url
from codex_runner.config import load_config

slack_app = typer.Typer(help="The Slack bridge.", no_args_is_help=True)


@slack_app.command("check")
def check_command() -> None:
    """Validate the Slack tokens and scopes and print what is missing."""
    config = load_config()
    app_token = os.environ.get("SLACK_APP_TOKEN") or config.slack.app_token
    bot_token = os.environ.get("SLACK_BOT_TOKEN") or config.slack.bot_token
    api_url = api_base_url(os.environ.get("SLACK_API_URL") or config.slack.api_url)
    report = asyncio.run(check_slack(app_token, bot_token, api_url))
    out = Console(highlight=False)
    for line in report.ok_lines:
        out.print(f"[green]ok[/]      {escape(line)}")
    for line in report.warnings:
        out.print(f"[yellow]warning[/] {escape(line)}")
    for line in report.problems:
        out.print(f"[red]missing[/] {escape(line)}")
    if not report.ok:
        raise typer.Exit(1)
    out.print("The Slack bridge can run: start `codex-runner serve`.")
