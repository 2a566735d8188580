"""``codex-runner config ...``: status, the OpenAI API key, ChatGPT login."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.auth.login import (
    DEFAULT_LOGIN_TIMEOUT_S,
    LoginFailed,
    LoginPrompt,
    login_with_chatgpt,
)
from codex_runner.auth.status import RunnerStatus, gather_status
from codex_runner.cli.daemon_link import ApiDaemonLink
from codex_runner.codex.errors import CodexError
from codex_runner.config import ConfigError, RunnerConfig, load_config
from codex_runner.service.api_key_login import (
    KeyLoginError,
    forget_key,
    log_in_with_stored_key,
    reload_daemon,
    store_key,
)

config_app = typer.Typer(
    name="config",
    help="Where codex-runner keeps its state, and how Codex is authenticated.",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    err.print(f"[red]error:[/] {escape(' '.join(message.split()))}")
    return typer.Exit(code)


def load() -> RunnerConfig:
    try:
        return load_config()
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def restart_daemon_runtime(config: RunnerConfig) -> None:
    """Tell the user what a running daemon made of the new credentials."""
    reload = reload_daemon(config, ApiDaemonLink())
    if reload is None:
        return
    if reload.warning is not None:
        err.print(f"[yellow]warning:[/] {escape(reload.warning)}")
    elif reload.message is not None:
        out.print(escape(reload.message))


# status ----------------------------------------------------------------------------------
@config_app.command("status")
def status(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    no_codex: Annotated[
        bool, typer.Option("--no-codex", help="Do not start Codex to ask for the account.")
    ] = False,
) -> None:
    """Where config and state live, which Codex, which auth profile and account, the daemon."""
    config = load()
    try:
        report = asyncio.run(gather_status(config, ask_codex=not no_codex))
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    if json_output:
        print(json.dumps(report.to_dict(), indent=2))
        return
    _print_status(report)


def _print_status(report: RunnerStatus) -> None:
    rows: list[tuple[str, str]] = [
        ("home", str(report.home)),
        (
            "config",
            f"{report.config_file}" + ("" if report.config_file_exists else " (absent: defaults)"),
        ),
        ("codex", f"{report.codex_version or '?'} at {report.codex_binary or '(not found)'}"),
        ("auth profile", f"{report.profile} ({report.auth_mode})"),
        ("codex home", str(report.codex_home)),
        ("team home", str(report.team_home)),
    ]
    account = report.account
    summary = report.account_summary()
    if account is not None and summary is not None:
        rows.append(("account", summary))
        for window in account.rate_limits:
            span = f" of {window.window_minutes} min" if window.window_minutes else ""
            rows.append((f"usage {window.name}", f"{window.used_percent}% used{span}"))
        if account.limit_reached:
            rows.append(("usage limit", account.limit_reached))
    stored = {True: "stored", False: "not stored", None: "unreadable"}[report.api_key_stored]
    rows.append(("API key", f"{stored} ({report.api_key_store})"))
    rows.append(("daemon", report.daemon_url or "not running"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        out.print(f"{name:<{width}}  {escape(value)}")
    for problem in report.problems:
        err.print(f"[yellow]warning:[/] {escape(problem)}")


# API key ---------------------------------------------------------------------------------
@config_app.command("set-openai-key")
def set_openai_key(
    api_key_stdin: Annotated[
        bool, typer.Option("--api-key-stdin", help="Read the key from standard input.")
    ] = False,
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", metavar="NAME", help="Read the key from this variable."),
    ] = None,
) -> None:
    """Store an OpenAI API key and log the active profile's Codex in with it."""
    if api_key_stdin == (api_key_env is not None):
        raise fail("pass exactly one of --api-key-stdin or --api-key-env NAME", 2)
    if api_key_env is not None:
        if api_key_env not in os.environ:
            raise fail(f"environment variable {api_key_env} is not set; export it first", 2)
        key = os.environ[api_key_env]
    else:
        key = sys.stdin.read()
    config = load()
    try:
        stored_in = store_key(config, key)
        out.print(f"API key stored in the {escape(stored_in)}")
        login = asyncio.run(log_in_with_stored_key(config))
    except KeyLoginError as exc:
        raise fail(str(exc)) from None
    out.print(
        f"Codex logged in with the API key (profile {escape(login.profile)}, "
        f"Codex home {escape(str(login.codex_home))})"
    )
    restart_daemon_runtime(config)


@config_app.command("clear-openai-key")
def clear_openai_key() -> None:
    """Forget the stored API key and log the active profile's Codex out if it used a key."""
    config = load()
    try:
        forgotten = asyncio.run(forget_key(config))
    except KeyLoginError as exc:
        raise fail(str(exc)) from None
    where = "removed from" if forgotten.removed else "was not in"
    out.print(f"API key {where} the {escape(forgotten.stored_in)}")
    if forgotten.logged_out is not None:
        out.print(f"Codex logged out (Codex home {escape(str(forgotten.logged_out))})")
        restart_daemon_runtime(config)


# ChatGPT ---------------------------------------------------------------------------------
def _show_prompt(prompt: LoginPrompt) -> None:
    # Plain print: a wrapped URL cannot be opened, and tests read the line.
    if prompt.user_code:
        print(f"Open {prompt.url} and enter this one-time code: {prompt.user_code}", flush=True)
    else:
        print(f"Open this URL in a browser to log in:\n{prompt.url}", flush=True)
    print("Waiting for the login to complete (Ctrl-C cancels)...", file=sys.stderr, flush=True)


@config_app.command("auth-chatgpt")
def auth_chatgpt(
    device_code: Annotated[
        bool,
        typer.Option("--device-code", help="Log in on another device with a one-time code."),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Give up (and cancel the login) after this many seconds.", min=1)
    ] = DEFAULT_LOGIN_TIMEOUT_S,
) -> None:
    """Log the active profile's Codex in with a ChatGPT account."""
    config = load()
    try:
        codex_home = config.codex_home
        account = asyncio.run(
            login_with_chatgpt(
                config, codex_home, device_code=device_code, on_prompt=_show_prompt, timeout=timeout
            )
        )
    except KeyboardInterrupt:
        raise fail("ChatGPT login cancelled; nothing was stored", 130) from None
    except (LoginFailed, CodexError, ConfigError) as exc:
        raise fail(str(exc)) from None
    who = f" as {account.email}" if account.email else ""
    out.print(f"Codex logged in with ChatGPT{escape(who)} (Codex home {escape(str(codex_home))})")
    restart_daemon_runtime(config)
