"""The team home: behaviour and memory shared by every auth profile.

``$CODEX_RUNNER_HOME/team-codex-home`` (or ``[auth] team_home``) holds ``AGENTS.md``,
``config.toml`` additions, ``skills/``, ``rules/``, ``memories/``, ``superpowers/`` and
``vendor_imports/``, and the team's ``AGENT.md`` and ``memory.md`` (made empty when
missing). Each profile's Codex home links to those entries (relative symlinks, so the
runner home can move): memory an agent writes under one profile is there under every
other. Its config.toml is written from the runner config merged with the team's additions,
so switching accounts never changes how the agent behaves. A new chat session starts with
the team's ``AGENT.md`` (:func:`team_memory`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codex_runner.config import ConfigError

TEAM_HOME = "team-codex-home"
TEAM_DIRS: tuple[str, ...] = ("skills", "rules", "memories", "superpowers", "vendor_imports")
TEAM_FILES: tuple[str, ...] = ("AGENTS.md", "AGENT.md", "memory.md")
# Made (empty) with the team home, so every profile links to them before anyone writes one:
# an agent's first note lands in the team's file, not in one profile's.
MEMORY_FILES: tuple[str, ...] = ("AGENT.md", "memory.md")
# What a chat session is given of AGENT.md at most (the rest is cut, and says so).
MAX_MEMORY_BYTES = 64 * 1024
# Codex writes its bundled skills to skills/.system at start; a skills directory holding
# nothing else can be replaced by the link (Codex writes them again, into the team home).
_CODEX_GENERATED_SKILLS = ".system"


@dataclass(frozen=True)
class LinkProblem:
    """An entry of a profile's Codex home that does not point at the team home."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def team_home(home: Path, configured: Path | None = None) -> Path:
    """The team home: ``configured`` (``[auth] team_home``; relative to the runner home),
    else the runner home's own."""
    if configured is None:
        return home / TEAM_HOME
    return home / configured.expanduser()


def ensure_team_home(home: Path, configured: Path | None = None) -> Path:
    """Create the team home, its shared directories and empty memory files; its path."""
    team = team_home(home, configured)
    for name in TEAM_DIRS:
        (team / name).mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in MEMORY_FILES:
        with contextlib.suppress(FileExistsError):
            (team / name).touch(mode=0o600, exist_ok=False)
    return team


def team_memory(home: Path, configured: Path | None = None) -> str:
    """The team's ``AGENT.md`` (at most :data:`MAX_MEMORY_BYTES`), "" when there is none."""
    try:
        with (team_home(home, configured) / "AGENT.md").open("rb") as file:
            data = file.read(MAX_MEMORY_BYTES + 1)
    except OSError:
        return ""
    text = data[:MAX_MEMORY_BYTES].decode("utf-8", errors="replace").strip()
    if len(data) > MAX_MEMORY_BYTES:
        text += "\n[... AGENT.md is longer; read the rest from the file itself]"
    return text


def team_config(home: Path, configured: Path | None = None) -> dict[str, Any]:
    """The team's ``config.toml`` additions, empty when there are none."""
    path = team_home(home, configured) / "config.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax.") from None


def owns_codex_home(home: Path, codex_home: Path) -> bool:
    """Only Codex homes under the runner home are rearranged (never a user's ~/.codex)."""
    return codex_home.resolve().is_relative_to(home.resolve())


def link_team_home(
    home: Path, codex_home: Path, configured: Path | None = None
) -> list[LinkProblem]:
    """Point ``codex_home``'s shared entries at the team home; returns what could not be linked.

    An entry that already holds the profile's own content is left alone and reported: the
    runner never deletes what a person put there.
    """
    team = ensure_team_home(home, configured)
    problems: list[LinkProblem] = []
    for name in (*TEAM_DIRS, *TEAM_FILES):
        target = team / name
        if not target.exists():
            continue  # AGENTS.md is optional: link it once the team writes one
        link = codex_home / name
        wanted = os.path.relpath(target, codex_home)
        if link.is_symlink():
            if os.readlink(link) == wanted:
                continue
            link.unlink()
        elif _is_replaceable(link):
            shutil.rmtree(link)
        elif link.exists():
            problems.append(LinkProblem(link, _conflict(link, target)))
            continue
        link.symlink_to(wanted, target_is_directory=target.is_dir())
    return problems


def link_problems(
    home: Path, codex_home: Path, configured: Path | None = None
) -> list[LinkProblem]:
    """What ``link_team_home`` would leave unlinked or broken (for doctor); changes nothing."""
    team = team_home(home, configured)
    problems: list[LinkProblem] = []
    for name in (*TEAM_DIRS, *TEAM_FILES):
        target, link = team / name, codex_home / name
        if not target.exists():
            continue
        if link.is_symlink():
            if link.resolve() != target.resolve():
                problems.append(LinkProblem(link, f"links to {os.readlink(link)}, not {target}"))
        elif link.exists() and not _is_replaceable(link):
            problems.append(LinkProblem(link, _conflict(link, target)))
    return problems


def _is_replaceable(path: Path) -> bool:
    if path.name != "skills" or path.is_symlink() or not path.is_dir():
        return False
    return all(entry.name == _CODEX_GENERATED_SKILLS for entry in path.iterdir())


def _conflict(link: Path, target: Path) -> str:
    return (
        f"holds this profile's own content instead of linking to the team home; move it into "
        f"{target} and delete {link}"
    )
