"""The ``codex-runner`` command line. Commands parse input, call the library, render."""

from __future__ import annotations

import functools
import gc
import importlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from codex_runner.config import ConfigError

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def error_console() -> Console:
    """stderr, for rich output; rich is imported on first use (the daemon's start skips it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    from rich.markup import escape

    line = f"[red]error:[/] {escape(' '.join(message.split()))}"
    error_console().print(line, soft_wrap=True)
    return typer.Exit(code)


# Each command's module is imported only when that command runs (or for the full app, e.g.
# --help and tests): the daemon's and the client's dependencies are slow to import, and a
# restart of the daemon should not pay for the Slack client and the scripted model.
# name -> (module, attribute, True for a command group)
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "run": ("codex_runner.cli.run_cmd", "run", False),
    "serve": ("codex_runner.cli.serve_cmd", "serve_command", False),
    "task": ("codex_runner.cli.tasks_cmd", "task_app", True),
    "approvals": ("codex_runner.cli.approvals_cmd", "approvals_app", True),
    "threads": ("codex_runner.cli.threads_cmd", "threads_app", True),
    "hosts": ("codex_runner.cli.hosts_cmd", "hosts_app", True),
    "notify": ("codex_runner.cli.notify_cmd", "notify_app", True),
    "jobs": ("codex_runner.cli.jobs_cmd", "jobs_app", True),
    "graph": ("codex_runner.cli.graph_cmd", "graph_app", True),
    "gc": ("codex_runner.cli.gc_cmd", "gc_command", False),
    "disk": ("codex_runner.cli.disk_cmd", "disk_command", False),
    "logs": ("codex_runner.cli.logs_cmd", "logs_command", False),
    "config": ("codex_runner.cli.config_cmd", "config_app", True),
    "auth": ("codex_runner.cli.auth_cmd", "auth_app", True),
    "doctor": ("codex_runner.cli.doctor_cmd", "doctor_command", False),
    "slack": ("codex_runner.cli.slack_cmd", "slack_app", True),
    "link": ("codex_runner.cli.link_cmd", "link_command", False),
    "mcp": ("codex_runner.cli.mcp_cmd", "mcp_command", False),
    "demo": ("codex_runner.cli.demo", "demo_command", False),
    "mock-model": ("codex_runner.cli.mock_model", "mock_model_command", False),
    "service": ("codex_runner.cli.service_cmd", "service_app", True),
    "codex": ("codex_runner.cli.codex_cmd", "codex_app", True),
}


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI; with ``only`` naming a command, just that one is loaded."""
    cli = typer.Typer(
        name="codex-runner",
        help="Run OpenAI Codex agents as a managed, durable, observable service.",
        no_args_is_help=True,
        add_completion=False,
    )
    # A callback keeps the app a command group even with one command loaded (typer runs a
    # lone command as the whole program otherwise, and `codex-runner serve` would not parse).
    cli.callback()(_group)
    names = [only] if only in _COMMANDS else list(_COMMANDS)
    for name in names:
        module, attribute, group = _COMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if group:
            cli.add_typer(target, name=name)
        else:
            cli.command(name)(target)
    return cli


CODEX_PACKAGE = "openai-codex-cli-bin"


def version_line() -> str:
    """``codex-runner X.Y.Z``, with the bundled Codex's version when it is installed (read
    from the package's metadata: nothing is started)."""
    from importlib.metadata import PackageNotFoundError, version

    from codex_runner import __version__

    try:
        codex = f" (codex {version(CODEX_PACKAGE)} from {CODEX_PACKAGE})"
    except PackageNotFoundError:
        codex = ""
    return f"codex-runner {__version__}{codex}"


def _print_version(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


def _group(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Run OpenAI Codex agents as a managed, durable, observable service."""


def __getattr__(name: str) -> typer.Typer:
    """``codex_runner.cli.main.app``: the whole CLI (tests drive it with CliRunner)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _load(command: str | None) -> typer.Typer:
    """The CLI with ``command`` loaded. Loading allocates some hundred thousand objects
    that live as long as the process and no garbage, so the cyclic collector is paused
    meanwhile (it ran dozens of times for nothing: about a tenth of the daemon's start),
    and what was loaded is then frozen out of every later collection."""
    gc.disable()
    try:
        return build_app(command)
    finally:
        gc.freeze()
        gc.enable()


def main() -> None:
    # Library warnings reach the user as events; the log is for --verbose runs and daemons.
    level = os.environ.get("CODEX_RUNNER_LOG_LEVEL", "ERROR").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # The console shows CODEX_RUNNER_LOG_LEVEL and up even when a daemon's JSON log file
    # lowers the codex_runner loggers' level to record more.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    if sys.argv[1:] == ["--version"]:  # no command to load for it
        print(version_line())
        return
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    cli = _load(command)
    try:
        cli()
    except ConfigError as exc:
        fail(str(exc))
        sys.exit(2)
