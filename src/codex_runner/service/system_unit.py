"""Running ``codex-runner serve`` as a system service: a systemd unit (Linux) or a launchd
plist (macOS) that starts it with this home, restarts it when it fails, and is removed again
(docs/service.md).

The unit runs ``serve`` with the Python that runs this command (``python -m codex_runner``),
so upgrading codex-runner with pip in that environment upgrades the service at its next
restart. It carries ``CODEX_RUNNER_HOME`` and ``PATH`` (git and Codex are found as they are
now) and nothing else from the environment: other variables may hold secrets, which do not
belong in a world-readable unit. A systemd unit reads them from ``$HOME/service.env``
(0600, optional) instead.

A unit already there is overwritten only when it is the same or ``force`` is given, and
removed only when this command wrote it (its marker line) or ``force`` is given.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

UNIT_NAME = "codex-runner"
LAUNCHD_LABEL = "io.codex-runner.serve"
MARKER = "Written by codex-runner service install"
DIR_ENV = "CODEX_RUNNER_SERVICE_DIR"  # where units go instead (tests, packagers)
ENV_FILE = "service.env"
RESTART_S = 5


class Manager(StrEnum):
    SYSTEMD = "systemd"
    LAUNCHD = "launchd"

    @classmethod
    def of_this_system(cls) -> Manager:
        return cls.LAUNCHD if sys.platform == "darwin" else cls.SYSTEMD


class UnitConflict(Exception):
    """A different unit (or one this command did not write) is in the way."""


@dataclass(frozen=True)
class UnitPlan:
    """The unit to write: where, what, and the commands that turn it on and off."""

    manager: Manager
    user: bool
    path: Path
    text: str
    enable: tuple[str, ...]
    stop: tuple[str, ...]  # what stops a service still running once its unit is removed
    env_file: Path | None = None  # the variables a systemd unit reads beside its own
    enabled_link: Path | None = None  # systemd's link to the unit once it is enabled


def unit_dir(manager: Manager, *, user: bool, env: dict[str, str] | None = None) -> Path:
    """Where the unit goes: ``$CODEX_RUNNER_SERVICE_DIR`` when set, else the manager's own
    folder for a user's or the system's services."""
    env = dict(os.environ) if env is None else env
    if env.get(DIR_ENV):
        return Path(env[DIR_ENV]).expanduser()
    if manager is Manager.LAUNCHD:
        return Path.home() / "Library/LaunchAgents" if user else Path("/Library/LaunchDaemons")
    if not user:
        return Path("/etc/systemd/system")
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def plan_unit(
    manager: Manager,
    *,
    user: bool,
    home: Path,
    directory: Path,
    python: str = sys.executable,
    path_env: str = "",
    run_as: str | None = None,
) -> UnitPlan:
    """The unit that runs ``serve`` on ``home``, to be written in ``directory``.
    ``run_as`` is the account a system unit runs under (a user unit runs as its user)."""
    command = [python, "-m", "codex_runner", "serve"]
    run_as = None if user else run_as
    if manager is Manager.LAUNCHD:
        path = directory / f"{LAUNCHD_LABEL}.plist"
        text = _launchd_plist(command, home=home, path_env=path_env, run_as=run_as)
        domain = "gui/$(id -u)" if user else "system"
        sudo = "" if user else "sudo "
        return UnitPlan(
            manager,
            user,
            path,
            text,
            enable=(f"{sudo}launchctl bootstrap {domain} {shlex.quote(str(path))}",),
            stop=(f"{sudo}launchctl bootout {domain}/{LAUNCHD_LABEL}",),
        )
    path = directory / f"{UNIT_NAME}.service"
    wanted_by = "default.target" if user else "multi-user.target"
    text = _systemd_unit(command, home=home, path_env=path_env, run_as=run_as, wanted_by=wanted_by)
    systemctl = "systemctl --user" if user else "sudo systemctl"
    enable: tuple[str, ...] = (
        f"{systemctl} daemon-reload",
        f"{systemctl} enable --now {UNIT_NAME}.service",
    )
    if user:  # a user's services stop at logout unless lingering is on
        enable += ("loginctl enable-linger $USER",)
    stop = (f"{systemctl} stop {UNIT_NAME}.service", f"{systemctl} daemon-reload")
    link = directory / f"{wanted_by}.wants" / path.name  # what `enable` makes
    return UnitPlan(manager, user, path, text, enable, stop, home / ENV_FILE, link)


def _systemd_path(value: Path) -> str:
    # A path setting takes the rest of the line as it is (no quotes); only % is special.
    return str(value).replace("%", "%%")


def _systemd_quote(value: str) -> str:
    # systemd's own quoting: double quotes, with backslash, quote and % escaped.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def _systemd_unit(
    command: list[str], *, home: Path, path_env: str, run_as: str | None, wanted_by: str
) -> str:
    lines = [
        f"# {MARKER}; `codex-runner service uninstall` removes it.",
        "[Unit]",
        "Description=codex-runner: Codex agents as a service",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={' '.join(_systemd_quote(part) for part in command)}",
        f"Environment={_systemd_quote(f'CODEX_RUNNER_HOME={home}')}",
    ]
    if path_env:
        lines.append(f"Environment={_systemd_quote(f'PATH={path_env}')}")
    lines += [
        f"EnvironmentFile=-{_systemd_path(home / ENV_FILE)}",
        f"WorkingDirectory={_systemd_path(home)}",
    ]
    if run_as:
        lines.append(f"User={run_as}")
    lines += [
        "Restart=on-failure",
        f"RestartSec={RESTART_S}",
        # SIGTERM to serve alone: it stops its turns and reaps Codex itself, in bounded time.
        "KillMode=mixed",
        "TimeoutStopSec=60",
        "",
        "[Install]",
        f"WantedBy={wanted_by}",
        "",
    ]
    return "\n".join(lines)


def _launchd_plist(command: list[str], *, home: Path, path_env: str, run_as: str | None) -> str:
    environment = {"CODEX_RUNNER_HOME": str(home)}
    if path_env:
        environment["PATH"] = path_env
    logs = home / "logs" / "launchd"
    plist: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": command,
        "EnvironmentVariables": environment,
        "WorkingDirectory": str(home),
        "RunAtLoad": True,
        # Restart on failure only, as systemd's Restart=on-failure.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_S,
        "StandardOutPath": str(logs / "stdout.log"),
        "StandardErrorPath": str(logs / "stderr.log"),
    }
    if run_as:
        plist["UserName"] = run_as
    body = plistlib.dumps(plist, sort_keys=True).decode()
    # The marker as an XML comment after the declaration (a plist has no other place).
    head, _, rest = body.partition("\n")
    return f"{head}\n<!-- {MARKER}; `codex-runner service uninstall` removes it. -->\n{rest}"


def install(plan: UnitPlan, *, force: bool = False) -> bool:
    """Write the unit (atomically, 0644); False when the same one is there already.

    Raises UnitConflict when a different one is there and ``force`` is not given.
    """
    try:
        current = plan.path.read_text()
    except FileNotFoundError:
        current = None
    if current == plan.text:
        return False
    if current is not None and not force:
        raise UnitConflict(
            f"{plan.path} exists and differs from the unit this command writes; see it with "
            "`codex-runner service install --print`, then overwrite it with --force"
        )
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    temporary = plan.path.with_name(f".{plan.path.name}.tmp")
    with open(temporary, "w") as out:
        out.write(plan.text)
        out.flush()
        os.fsync(out.fileno())
    temporary.chmod(0o644)
    temporary.replace(plan.path)
    return True


def uninstall(plan: UnitPlan, *, force: bool = False) -> bool:
    """Remove the unit; False when there is none. Raises UnitConflict for a file this
    command did not write, unless ``force``."""
    try:
        current = plan.path.read_text()
    except FileNotFoundError:
        return False
    if MARKER not in current and not force:
        raise UnitConflict(
            f"{plan.path} was not written by `codex-runner service install`; remove it "
            "yourself, or with --force"
        )
    plan.path.unlink()
    # Left behind, `enable`'s link would dangle (it names the unit the same way).
    if plan.enabled_link is not None and plan.enabled_link.is_symlink():
        plan.enabled_link.unlink()
    return True
