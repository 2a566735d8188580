"""``codex-runner threads list``: the Codex threads the runner's Codex home knows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.render import print_model_json
from codex_runner.cli.tables import Column, Fit, print_table

threads_app = typer.Typer(
    name="threads", help="The Codex threads the runner's Codex knows.", no_args_is_help=True
)
out = Console(highlight=False)

THREAD_COLUMNS = (
    Column("THREAD"),
    Column("TASK"),
    Column("UPDATED"),
    Column("CWD", Fit.SHORTEN, min_width=12, drop_rank=1),
    Column("PREVIEW", Fit.WRAP, min_width=16),
)


@threads_app.command("list")
def list_threads(
    cwd: Annotated[
        Path | None, typer.Option("--cwd", help="Only threads started in this directory.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: UrlOption = None,
) -> None:
    """Newest first; `task submit --thread ID` adopts one as a new task's thread."""
    with daemon_session(url) as client:
        result = client.threads(cwd=str(cwd.resolve()) if cwd else None, limit=limit)
    if json_output:
        print_model_json(result)
        return
    rows = [
        (
            t.id,
            t.task_id or "",
            t.updated_at.strftime("%Y-%m-%d %H:%M") if t.updated_at else "",
            t.cwd or "",
            " ".join(t.preview.split()),
        )
        for t in result.threads
    ]
    print_table(out, THREAD_COLUMNS, rows, empty="no Codex threads")
