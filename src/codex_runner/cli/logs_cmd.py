"""``codex-runner logs``: read the layered logs of this machine's runner home.

Reads the files directly (docs/logs.md), so it works with the daemon stopped, after a
crash, and on a copy of a home: the runner's own records, or one task's (its events and the
records about it), or one chat session's.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Annotated, Any

import orjson
import typer

from codex_runner.cli.main import fail
from codex_runner.config import ConfigError, load_config
from codex_runner.logs import LEVELS, LogLayout, LogQuery, Tail
from codex_runner.logs.since import parse_since

FOLLOW_POLL_S = 0.5  # how often --follow looks for new lines


def logs_command(
    task: Annotated[
        str | None, typer.Option("--task", help="One task's log: its events and records.")
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="One chat session's log, by its key.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only records since: a duration back (90s, 15m, 1h, 2d) or a time."),
    ] = None,
    level: Annotated[
        str | None, typer.Option(help=f"The lowest level shown: {', '.join(LEVELS)}.")
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=1, max=100_000, help="Show the last N records.")
    ] = 200,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records (Ctrl-C stops).")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show the daemon's logs, one task's or one chat session's (read from the home's files)."""
    try:
        config = load_config()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    try:
        query = LogQuery(
            task=task,
            session=session,
            since=parse_since(since, time.time()) if since is not None else None,
            level=level,
            limit=lines,
        )
    except ValueError as exc:
        raise fail(f"{exc} (see codex-runner logs --help)", code=2) from None
    tail = Tail(LogLayout(config.home / "logs"), query, from_start=True)
    show = _print_json if json_output else _print_text
    for record in tail.poll():
        show(record)
    if not follow:
        return
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(FOLLOW_POLL_S)  # files have no change event worth depending on
            for record in tail.poll():
                show(record)


def _print_json(record: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(record).decode() + "\n")
    sys.stdout.flush()


def _print_text(record: dict[str, Any]) -> None:
    sys.stdout.write(format_record(record) + "\n")
    sys.stdout.flush()


def format_record(record: dict[str, Any]) -> str:
    """One record as a line for people: time, level, logger, message, what it is about;
    an exception's lines follow, indented."""
    at = str(record.get("at", ""))[:19].replace("T", " ")
    about = " ".join(f"{k}={record[k]}" for k in ("task_id", "session_key") if k in record)
    head = f"{at} {str(record['level']).upper():<8} {record.get('logger', 'event')}: "
    line = head + str(record.get("message", "")) + (f"  [{about}]" if about else "")
    exception = record.get("exception")
    if isinstance(exception, str):
        line += "\n" + "\n".join("    " + part for part in exception.splitlines())
    return line
