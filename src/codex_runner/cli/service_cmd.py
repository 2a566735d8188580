"""``codex-runner service install|uninstall``: run ``serve`` as a systemd or launchd service
(docs/service.md). What the unit says and the overwrite rules: service/system_unit.py."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from codex_runner.cli.main import fail
from codex_runner.config import ConfigError, load_config
from codex_runner.service.system_unit import (
    DIR_ENV,
    Manager,
    UnitConflict,
    UnitPlan,
    install,
    plan_unit,
    uninstall,
    unit_dir,
)

service_app = typer.Typer(
    name="service",
    help="Run `codex-runner serve` as a system service (systemd, or launchd on macOS).",
    no_args_is_help=True,
)

UserOption = Annotated[
    bool,
    typer.Option(
        "--user",
        help="A service of your user (~/.config/systemd/user, ~/Library/LaunchAgents) rather "
        "than of the system (/etc/systemd/system, /Library/LaunchDaemons; needs root).",
    ),
]
ManagerOption = Annotated[
    Manager | None,
    typer.Option(help="Default: launchd on macOS, systemd elsewhere."),
]
DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help=f"Write the unit in this folder instead (or {DIR_ENV}).",
        file_okay=False,
    ),
]
ForceOption = Annotated[bool, typer.Option(help="Replace (or remove) a unit that differs.")]


def _plan(user: bool, manager: Manager | None, directory: Path | None) -> UnitPlan:
    try:
        home = load_config().home  # a config that does not load would not serve either
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    chosen = manager or Manager.of_this_system()
    return plan_unit(
        chosen,
        user=user,
        home=home.resolve(),
        directory=directory or unit_dir(chosen, user=user),
        path_env=os.environ.get("PATH", ""),
        # Under sudo, the service runs as the one who asked, not as root.
        run_as=os.environ.get("SUDO_USER") or getpass.getuser(),
    )


@service_app.command("install")
def install_command(
    user: UserOption = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Show the unit; write nothing.")
    ] = False,
    force: ForceOption = False,
    manager: ManagerOption = None,
    directory: DirOption = None,
) -> None:
    """Write a unit that runs `serve` on this home, restarting it when it fails."""
    plan = _plan(user, manager, directory)
    if print_only:
        sys.stdout.write(plan.text)
        return
    try:
        written = install(plan, force=force)
    except UnitConflict as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        hint = "" if user else " (a system unit needs root: sudo, or --user)"
        raise fail(f"cannot write {plan.path}: {exc.strerror}{hint}") from None
    print(f"{'wrote' if written else 'already installed:'} {plan.path}")
    print("Start it now and at every boot with:")
    for command in plan.enable:
        print(f"  {command}")
    left_out = sorted(
        name
        for name in os.environ
        if name.startswith("CODEX_RUNNER_") and name not in ("CODEX_RUNNER_HOME", DIR_ENV)
    )
    if left_out:
        where = "config.toml" + (f" or {plan.env_file}" if plan.env_file is not None else "")
        print(
            f"Not carried into the unit (they may hold secrets): {', '.join(left_out)}; "
            f"put them in {where} (docs/service.md)."
        )


@service_app.command("uninstall")
def uninstall_command(
    user: UserOption = False,
    force: ForceOption = False,
    manager: ManagerOption = None,
    directory: DirOption = None,
) -> None:
    """Remove the unit `service install` wrote (stop the service first)."""
    plan = _plan(user, manager, directory)
    try:
        removed = uninstall(plan, force=force)
    except UnitConflict as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot remove {plan.path}: {exc.strerror}") from None
    if not removed:
        print(f"no unit at {plan.path}: nothing to remove")
        return
    print(f"removed {plan.path}")
    print("A service still running goes on until stopped:")
    for command in plan.stop:
        print(f"  {command}")
