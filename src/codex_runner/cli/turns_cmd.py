"""``codex-runner task turns``: a task's turns, one row each."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from codex_runner.cli.daemon_session import UrlOption, daemon_session
from codex_runner.cli.id_prefix import resolve_task_id
from codex_runner.cli.render import print_model_json
from codex_runner.cli.tables import Cell, Column, Fit, print_table
from codex_runner.http.wire_turns import TurnList, TurnOut

TURN_STYLES = {
    "running": "cyan",
    "completed": "bold green",
    "failed": "bold red",
    "interrupted": "yellow",
}
# The turn's Codex id is long (a UUID): it is the first column to go on a narrow terminal.
TURN_COLUMNS = (
    Column("#"),
    Column("STATUS"),
    Column("TOOK"),
    Column("TOKENS"),
    Column("INPUT", Fit.SHORTEN, min_width=12, drop_rank=2),
    Column("FINAL MESSAGE", Fit.SHORTEN, min_width=12, drop_rank=3),
    Column("TURN ID", drop_rank=1),
)


def turns(
    task_id: Annotated[
        str, typer.Argument(help="The task's id, or any unique prefix of it.", show_default=False)
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: UrlOption = None,
) -> None:
    """The task's turns in order: status, duration, tokens, input, final message."""
    with daemon_session(url) as client:
        result = client.turns(resolve_task_id(client, task_id))
    if json_output:
        print_model_json(result)
        return
    print_turns(Console(highlight=False), result)


def print_turns(console: Console, result: TurnList) -> None:
    rows = [_row(t) for t in result.turns]
    print_table(console, TURN_COLUMNS, rows, empty=f"task {result.task_id} has no turns yet")


def _row(turn: TurnOut) -> tuple[str | Cell, ...]:
    final = turn.error if turn.error and not turn.final_message else turn.final_message
    return (
        str(turn.number),
        Cell(turn.status.value, TURN_STYLES.get(turn.status.value, "")),
        took(turn.started_at, turn.finished_at),
        str(turn.usage.total_tokens),
        " ".join(turn.input_summary.split()),
        " ".join((final or "").split()),
        turn.id or "",
    )


def took(started: datetime, finished: datetime | None) -> str:
    """How long a finished turn ran, to the second or minute; "" while it runs."""
    if finished is None:
        return ""
    seconds = max(0, round((finished - started).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
