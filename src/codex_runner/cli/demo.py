"""``codex-runner demo``: see a real Codex turn work end to end, offline."""

from __future__ import annotations

import asyncio
import os

import typer
from rich.console import Console

from codex_runner.cli.render import LiveView


def demo_command() -> None:
    """Run a real Codex turn against the built-in scripted model in a scratch git repo."""
    from codex_runner.service.demo import run_demo

    console = Console(highlight=False)
    console.print(
        "[bold]codex-runner demo[/]: the real codex binary, a scripted model on "
        "127.0.0.1, a scratch git repository. No OpenAI account needed.\n"
    )
    os.environ.setdefault("MOCK_API_KEY", "demo")
    result, repo = asyncio.run(run_demo(LiveView(console)))
    console.print(f"\nrepository: {repo}")
    for path in sorted(repo.iterdir()):
        if path.name != ".git":
            console.print(f"  {path.name}")
    if not result.ok:
        reason = result.error.message if result.error else result.status.value
        console.print(f"[red]demo failed:[/] {reason}")
        raise typer.Exit(1)
    console.print("[green]demo completed[/]")
