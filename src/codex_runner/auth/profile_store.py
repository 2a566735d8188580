"""Auth profiles: each is its own Codex home holding its own ``auth.json``.

One Codex home per profile means no two Codex processes share token refresh state. Profiles
live at ``$CODEX_RUNNER_HOME/profiles/<name>/codex-home``; the active one is named in
``profiles/active``. The implicit ``default`` profile is ``$CODEX_RUNNER_HOME/codex-home``, so
a runner that never created a profile works as before.

This module manages files only; switching the profile a running runtime uses is
:mod:`codex_runner.service.profile_switch`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from codex_runner.config import (
    DEFAULT_PROFILE,
    PROFILE_NAME,
    active_profile,
    active_profile_path,
    profile_codex_home,
)
from codex_runner.runner_home.secret_files import write_private

AUTH_FILE = "auth.json"


class ProfileError(Exception):
    """A profile operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class ProfileInfo:
    name: str
    codex_home: Path
    active: bool
    auth_mode: str  # apikey | chatgpt | none, or whatever mode Codex wrote

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "codex_home": str(self.codex_home),
            "active": self.active,
            "auth_mode": self.auth_mode,
        }


def auth_mode_of(auth_file: Path) -> str:
    """The mode recorded in a Codex ``auth.json`` (never its secrets); ``none`` without one."""
    try:
        raw = json.loads(auth_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "none"
    except (OSError, ValueError):
        return "unreadable"
    if not isinstance(raw, dict):
        return "unreadable"
    if isinstance(raw.get("auth_mode"), str):
        return str(raw["auth_mode"])
    if raw.get("tokens"):
        return "chatgpt"
    if raw.get("OPENAI_API_KEY"):
        return "apikey"
    return "none"


def host_codex_home() -> Path:
    """The user's own Codex home: ``$CODEX_HOME`` when set, else ``~/.codex``."""
    raw = os.environ.get("CODEX_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".codex"


class ProfileStore:
    def __init__(self, home: Path) -> None:
        self.home = home

    # reading -----------------------------------------------------------------------------
    def active(self) -> str:
        return active_profile(self.home)

    def codex_home(self, name: str) -> Path:
        return profile_codex_home(self.home, check_name(name))

    def names(self) -> list[str]:
        """``default`` first, then every created profile by name."""
        found: list[str] = []
        root = self.home / "profiles"
        if root.is_dir():
            found = sorted(
                entry.name
                for entry in root.iterdir()
                if entry.is_dir() and PROFILE_NAME.fullmatch(entry.name) and entry.name != "active"
            )
        return [DEFAULT_PROFILE, *(n for n in found if n != DEFAULT_PROFILE)]

    def exists(self, name: str) -> bool:
        return name == DEFAULT_PROFILE or self.codex_home(name).is_dir()

    def info(self, name: str) -> ProfileInfo:
        home = self.codex_home(name)
        return ProfileInfo(name, home, name == self.active(), auth_mode_of(home / AUTH_FILE))

    def profiles(self) -> list[ProfileInfo]:
        return [self.info(name) for name in self.names()]

    def require(self, name: str) -> None:
        if not self.exists(name):
            raise ProfileError(
                f"no auth profile named {name!r}; see `codex-runner auth profiles list`"
            )

    # changing ----------------------------------------------------------------------------
    def set_active(self, name: str) -> None:
        """Record ``name`` as the active profile (the runtime picks it up when it restarts)."""
        self.require(name)
        path = active_profile_path(self.home)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".active.{os.getpid()}.tmp")
        tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def create(self, name: str) -> Path:
        home = self.codex_home(name)
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return home

    def import_auth(self, name: str, source: Path, *, replace: bool = False) -> ProfileInfo:
        """Copy an existing Codex ``auth.json`` into profile ``name`` (created if needed)."""
        check_name(name)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProfileError(
                f"{source} does not exist; pass the path of a Codex auth.json"
            ) from None
        except OSError as exc:
            raise ProfileError(
                f"cannot read {source} ({exc.strerror}); check its permissions"
            ) from None
        except UnicodeDecodeError:
            raise ProfileError(
                f"{source} is not a text file; pass the path of a Codex auth.json (JSON)"
            ) from None
        return self.import_text(name, text, source=str(source), replace=replace)

    def import_text(
        self, name: str, text: str, *, source: str, replace: bool = False
    ) -> ProfileInfo:
        """Store ``text``, a Codex ``auth.json`` (``source`` names it in errors), as profile
        ``name``'s, validated as :meth:`import_auth` does."""
        check_name(name)
        _check_auth_json(text, source)
        target = self.codex_home(name) / AUTH_FILE
        if target.exists() and not replace:
            raise ProfileError(
                f"profile {name!r} already has {target}; pass --replace to overwrite it, "
                "or choose another name"
            )
        self.create(name)
        write_private(target, text)  # 0600 from the first byte: it holds tokens
        return self.info(name)

    def import_host(self, name: str, *, replace: bool = False) -> ProfileInfo:
        """Copy (never move) the user's own ``~/.codex/auth.json`` into profile ``name``."""
        source = host_codex_home() / AUTH_FILE
        if not source.exists():
            raise ProfileError(
                f"no {source}: log in with the codex CLI first (`codex login`), "
                "or import a file with --from"
            )
        return self.import_auth(name, source, replace=replace)

    def remove(self, name: str) -> None:
        """Delete profile ``name`` (its Codex home, not the team home it links to)."""
        check_name(name)
        if name == DEFAULT_PROFILE:
            raise ProfileError(
                "the default profile cannot be removed; log it out with "
                "`codex-runner config clear-openai-key` or import another auth.json over it"
            )
        self.require(name)
        if name == self.active():
            raise ProfileError(
                f"profile {name!r} is active; switch first: codex-runner auth profiles use default"
            )
        # rmtree unlinks symlinks without following them: the team home stays intact.
        shutil.rmtree(self.home / "profiles" / name)


def check_name(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name) or name == "active":
        raise ProfileError(
            f"{name!r} is not a valid profile name; use letters, digits, '.', '_' or '-' "
            "(up to 64, not starting with '.' or '-')"
        )
    return name


def _check_auth_json(text: str, source: str) -> None:
    # Messages name the file, never its content: it holds tokens or keys.
    try:
        raw = json.loads(text)
    except ValueError:
        raise ProfileError(f"{source} is not valid JSON; pass a Codex auth.json") from None
    if not isinstance(raw, dict) or not (
        raw.get("tokens") or raw.get("OPENAI_API_KEY") or raw.get("auth_mode")
    ):
        raise ProfileError(
            f"{source} holds no Codex credentials (no tokens, OPENAI_API_KEY or auth_mode); "
            "pass the auth.json of a logged-in Codex home"
        )
