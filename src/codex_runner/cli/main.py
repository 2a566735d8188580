"""The ``codex-runner`` command line. Commands parse input, call the library, render."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli.approvals import approval_handler
from codex_runner.cli.render import LiveView, print_json_event
from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError, load_config
from codex_runner.service.single_turn import run_single_turn

err = Console(stderr=True, highlight=False)


class Runtime(StrEnum):
    app_server = "app-server"
    exec = "exec"


class Sandbox(StrEnum):
    read_only = "read-only"
    workspace_write = "workspace-write"
    danger_full_access = "danger-full-access"


class Policy(StrEnum):
    untrusted = "untrusted"
    on_request = "on-request"
    never = "never"


class Decision(StrEnum):
    accept = "accept"
    decline = "decline"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    err.print(f"[red]error:[/] {escape(' '.join(message.split()))}", soft_wrap=True)
    return typer.Exit(code)


def run(
    prompt: Annotated[str, typer.Argument(help="What Codex should do.")],
    cwd: Annotated[Path, typer.Option(help="Directory the turn runs in.")] = Path("."),
    runtime: Annotated[Runtime | None, typer.Option(help="Codex runtime.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    sandbox: Annotated[Sandbox | None, typer.Option(help="Sandbox mode.")] = None,
    approval_policy: Annotated[Policy | None, typer.Option(help="When Codex asks.")] = None,
    approve: Annotated[
        Decision | None,
        typer.Option(
            help="Answer every approval request this way (default: ask on a "
            "terminal, decline without one)."
        ),
    ] = None,
    thread: Annotated[str | None, typer.Option(help="Resume this Codex thread id.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
) -> None:
    """Run one Codex turn in a directory and stream what happens."""
    if not prompt.strip():
        raise fail("the prompt is empty; say what Codex should do.", 2)
    if not cwd.is_dir():
        raise fail(f"--cwd {cwd} is not a directory; create it or pick another.", 2)
    try:
        config = load_config(
            overrides={
                "runtime": runtime.value if runtime else None,
                "model": model,
                "sandbox": sandbox.value if sandbox else None,
                "approval_policy": approval_policy.value if approval_policy else None,
            }
        )
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    view = print_json_event if json_output else LiveView()
    handler = approval_handler(approve.value if approve else None, err)
    try:
        result = asyncio.run(
            run_single_turn(
                config, prompt, cwd.resolve(), on_event=view, approvals=handler, thread_id=thread
            )
        )
    except CodexError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
    if not result.ok:
        reason = result.error.message if result.error else result.status.value
        cls = f" [{result.error.failure_class}]" if result.error else ""
        raise fail(f"turn {result.status.value}{cls}: {reason}")


# Each command's module is imported only when that command runs (or for the full app, e.g.
# --help and tests): the daemon's and the client's dependencies are slow to import, and a
# restart of the daemon should not pay for the Slack client and the scripted model.
# name -> (module, attribute, True for a command group)
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "serve": ("codex_runner.cli.serve_cmd", "serve_command", False),
    "task": ("codex_runner.cli.tasks_cmd", "task_app", True),
    "approvals": ("codex_runner.cli.approvals_cmd", "approvals_app", True),
    "graph": ("codex_runner.cli.graph_cmd", "graph_app", True),
    "gc": ("codex_runner.cli.gc_cmd", "gc_command", False),
    "config": ("codex_runner.cli.config_cmd", "config_app", True),
    "auth": ("codex_runner.cli.auth_cmd", "auth_app", True),
    "doctor": ("codex_runner.cli.doctor_cmd", "doctor_command", False),
    "slack": ("codex_runner.cli.slack_cmd", "slack_app", True),
    "demo": ("codex_runner.cli.demo", "demo_command", False),
    "mock-model": ("codex_runner.cli.mock_model", "mock_model_command", False),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI; with ``only`` naming a command, just that one (and ``run``) is loaded."""
    cli = typer.Typer(
        name="codex-runner",
        help="Run OpenAI Codex agents as a managed, durable, observable service.",
        no_args_is_help=True,
        add_completion=False,
    )
    cli.command("run")(run)
    names = [only] if only in _COMMANDS else list(_COMMANDS)
    for name in names:
        module, attribute, group = _COMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if group:
            cli.add_typer(target, name=name)
        else:
            cli.command(name)(target)
    return cli


def __getattr__(name: str) -> typer.Typer:
    """``codex_runner.cli.main.app``: the whole CLI (tests drive it with CliRunner)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    # Library warnings reach the user as events; the log is for --verbose runs and daemons.
    level = os.environ.get("CODEX_RUNNER_LOG_LEVEL", "ERROR").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # The console shows CODEX_RUNNER_LOG_LEVEL and up even when a daemon's JSON log file
    # lowers the codex_runner loggers' level to record more.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    try:
        build_app(command)()
    except ConfigError as exc:
        fail(str(exc))
        sys.exit(2)
