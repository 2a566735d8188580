"""``codex-runner auth profiles ...``: one Codex home (and account) per auth profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from codex_runner.auth.account import describe_mode
from codex_runner.auth.profile_store import ProfileError, ProfileInfo, ProfileStore
from codex_runner.cli.config_cmd import fail, load, out
from codex_runner.cli.daemon_link import ApiDaemonLink
from codex_runner.runner_home.api_token import TokenMissing, read_token
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.runner_home.secret_files import UnsafeSecretFile
from codex_runner.service.daemon_link import DaemonRefused, DaemonUnanswered

auth_app = typer.Typer(
    name="auth", help="Authentication: auth profiles, one account each.", no_args_is_help=True
)
profiles_app = typer.Typer(
    help="Auth profiles: each is its own Codex home with its own auth.json; all share the "
    "team home ($CODEX_RUNNER_HOME/team-codex-home).",
    no_args_is_help=True,
)
auth_app.add_typer(profiles_app, name="profiles")


def _store() -> ProfileStore:
    config = load()
    if not config.uses_profiles:
        raise fail(
            f"codex.home is set in {config.home / 'config.toml'}, so auth profiles do not "
            "apply; remove codex.home to use them",
            2,
        )
    return ProfileStore(config.home)


def _describe(info: ProfileInfo) -> str:
    return f"profile {info.name!r} ({describe_mode(info.auth_mode)}) at {info.codex_home}"


@profiles_app.command("list")
def list_profiles(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Every auth profile, its auth mode, and which one is active."""
    profiles = _store().profiles()
    if json_output:
        print(json.dumps([p.to_dict() for p in profiles], indent=2))
        return
    width = max(len(p.name) for p in profiles)
    for p in profiles:
        mark = "*" if p.active else " "
        mode = describe_mode(p.auth_mode)
        out.print(f"{mark} {escape(p.name):<{width}}  {mode:<8}  {escape(str(p.codex_home))}")


@profiles_app.command("import")
def import_profile(
    name: Annotated[str, typer.Option("--name", help="Name of the profile to create.")],
    source: Annotated[Path, typer.Option("--from", help="An existing Codex auth.json to copy.")],
    replace: Annotated[bool, typer.Option(help="Overwrite the profile's auth.json.")] = False,
) -> None:
    """Create (or fill) a profile from a copy of an existing Codex auth.json."""
    try:
        info = _store().import_auth(name, source, replace=replace)
    except ProfileError as exc:
        raise fail(str(exc), 2) from None
    out.print(f"imported {escape(_describe(info))}")


@profiles_app.command("import-host")
def import_host(
    name: Annotated[str, typer.Option("--name", help="Name of the profile to create.")],
    replace: Annotated[bool, typer.Option(help="Overwrite the profile's auth.json.")] = False,
) -> None:
    """Copy (never move) your own ~/.codex/auth.json into a profile."""
    try:
        info = _store().import_host(name, replace=replace)
    except ProfileError as exc:
        raise fail(str(exc), 2) from None
    out.print(f"imported {escape(_describe(info))}")


@profiles_app.command("use")
def use_profile(
    name: Annotated[str, typer.Argument(help="The profile to make active.")],
    when_idle: Annotated[
        bool, typer.Option("--when-idle", help="With turns running, switch after they finish.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Switch now, interrupting running turns.")
    ] = False,
) -> None:
    """Make a profile active; a running daemon restarts Codex on it."""
    if when_idle and force:
        raise fail("pass --when-idle or --force, not both", 2)
    store = _store()
    try:
        store.require(name)
    except ProfileError as exc:
        raise fail(str(exc), 2) from None
    daemon = running_daemon(store.home)
    if daemon is None:
        store.set_active(name)
        out.print(f"active auth profile: {escape(name)}")
        return
    mode = "force" if force else "when_idle" if when_idle else "now"
    try:
        message = ApiDaemonLink().switch_profile(daemon.url, read_token(store.home), name, mode)
    except DaemonRefused as exc:
        if not exc.unsupported:
            raise fail(f"the daemon refused: {exc}", 3 if exc.busy else 1) from None
        # Its exec runtime reads profiles/active on every turn: writing it is the switch.
        store.set_active(name)
        out.print(f"active auth profile: {escape(name)} (used from the next turn)")
        return
    except DaemonUnanswered as exc:
        raise fail(
            f"the daemon at {daemon.url} did not answer ({exc}); "
            "check it with `codex-runner doctor`"
        ) from None
    except (TokenMissing, UnsafeSecretFile) as exc:
        raise fail(str(exc)) from None
    out.print(f"daemon at {escape(daemon.url)}: {escape(message)}")


@profiles_app.command("remove")
def remove_profile(name: Annotated[str, typer.Argument(help="The profile to delete.")]) -> None:
    """Delete a profile's Codex home (its auth.json and sessions; the team home stays)."""
    try:
        _store().remove(name)
    except ProfileError as exc:
        raise fail(str(exc), 2) from None
    out.print(f"removed auth profile {escape(name)}")
