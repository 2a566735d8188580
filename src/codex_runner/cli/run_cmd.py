"""``codex-runner run``: one Codex turn in a directory, streamed to the terminal: the answer
and command output as they stream (unless ``--no-deltas``), and on a terminal a spinner with
the command running now."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from codex_runner.cli import exit_codes
from codex_runner.cli.approvals import approval_handler
from codex_runner.cli.follow import NO_DELTAS_HELP
from codex_runner.cli.main import error_console, fail
from codex_runner.cli.render import LiveView, print_json_event
from codex_runner.cli.status_line import StatusLine
from codex_runner.codex.errors import CodexError
from codex_runner.codex.runtime import ApprovalHandler, TurnResult
from codex_runner.config import (
    ApprovalPolicy,
    ConfigError,
    RuntimeKind,
    SandboxMode,
    load_config,
)
from codex_runner.domain.events import ApprovalRequest, TurnStatus
from codex_runner.service.single_turn import NoEarlierRun, continued_thread, run_single_turn
from codex_runner.store.errors import StoreError
from codex_runner.store.sql import SqlStore

# The choices are config's own types: typer lists them in --help and refuses others.
Decision = Literal["accept", "decline"]


def run(
    prompt: Annotated[str, typer.Argument(help="What Codex should do.")],
    cwd: Annotated[Path, typer.Option(help="Directory the turn runs in.")] = Path("."),
    runtime: Annotated[RuntimeKind | None, typer.Option(help="Codex runtime.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    sandbox: Annotated[SandboxMode | None, typer.Option(help="Sandbox mode.")] = None,
    approval_policy: Annotated[ApprovalPolicy | None, typer.Option(help="When Codex asks.")] = None,
    approve: Annotated[
        Decision | None,
        typer.Option(
            help="Answer every approval request this way (default: ask on a "
            "terminal, decline without one)."
        ),
    ] = None,
    thread: Annotated[str | None, typer.Option(help="Resume this Codex thread id.")] = None,
    continue_last: Annotated[
        bool,
        typer.Option(
            "--continue",
            help="Resume the thread the last `run` in this directory used.",
            show_default=False,
        ),
    ] = False,
    no_deltas: Annotated[
        bool, typer.Option("--no-deltas", help=NO_DELTAS_HELP, show_default=False)
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
) -> None:
    """Run one Codex turn in a directory and stream what happens."""
    if not prompt.strip():
        raise fail("the prompt is empty; say what Codex should do.", exit_codes.USAGE)
    if not cwd.is_dir():
        raise fail(f"--cwd {cwd} is not a directory; create it or pick another.", exit_codes.USAGE)
    try:
        config = load_config(
            overrides={
                "runtime": runtime,
                "model": model,
                "sandbox": sandbox,
                "approval_policy": approval_policy,
            }
        )
    except ConfigError as exc:
        raise fail(str(exc), exit_codes.USAGE) from None
    if continue_last and thread is not None:
        raise fail("--continue and --thread both name the thread; give one", exit_codes.USAGE)
    console = Console(highlight=False)
    live = None if json_output else LiveView(console, status=StatusLine(console))
    handler = approval_handler(approve, error_console())
    where = cwd.resolve()

    async def in_store() -> TurnResult:
        # The runner's store remembers each directory's last thread (for --continue).
        async with await SqlStore.open(config.store_target) as store:
            last = await continued_thread(store, where) if continue_last else thread
            return await run_single_turn(
                config,
                prompt,
                where,
                on_event=print_json_event if live is None else live,
                approvals=handler if live is None else _asked_below(live, handler),
                thread_id=last,
                on_delta=None if live is None or no_deltas else live.delta,
                directories=store,
            )

    try:
        result = asyncio.run(in_store())
    except NoEarlierRun as exc:
        raise fail(str(exc), exit_codes.USAGE) from None
    except (CodexError, StoreError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", exit_codes.STOPPED_BY_USER) from None
    finally:
        if live is not None:
            live.end()
    if result.status is TurnStatus.INTERRUPTED:
        raise fail(
            f"turn interrupted; continue the thread with: codex-runner run PROMPT --cwd "
            f"{cwd} --continue (or --thread {result.thread_id})",
            exit_codes.INTERRUPTED,
        )
    if not result.ok:
        reason = result.error.message if result.error else result.status.value
        cls = f" [{result.error.failure_class}]" if result.error else ""
        raise fail(f"turn {result.status.value}{cls}: {reason}")


def _asked_below(live: LiveView, handler: ApprovalHandler) -> ApprovalHandler:
    """``handler``, with the spinner off and any open line ended while it asks a person."""

    async def ask(request: ApprovalRequest) -> str:
        live.pause()
        try:
            return await handler(request)
        finally:
            live.status.resume()

    return ask
