"""``codex-runner doctor``: one line per check, ok / warning / error, with the fix."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli.daemon_link import ApiDaemonLink
from codex_runner.config import default_home
from codex_runner.service.doctor import run_doctor
from codex_runner.service.doctor_checks import DoctorReport, Level

_STYLE = {Level.OK: "green", Level.WARNING: "yellow", Level.ERROR: "red"}


def doctor_command(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Check that Codex, its auth, git, the sandbox, the state directory and the daemon work."""
    report = asyncio.run(run_doctor(default_home(), daemon=ApiDaemonLink()))
    if json_output:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _render(report)
    if not report.ok:
        raise typer.Exit(1)


def _render(report: DoctorReport) -> None:
    console = Console(highlight=False, soft_wrap=True)
    for check in report.checks:
        style = _STYLE[check.level]
        console.print(
            f"[{style}]{check.level.value:<7}[/] {escape(check.name)}: {escape(check.message)}"
        )
        if check.fix:
            console.print(f"        fix: {escape(check.fix)}")
