"""Codex releases on disk: the installed versions, the pinned wheel, the pointers and the
record of switches (docs/releases.md).

``$CODEX_RUNNER_HOME/releases/`` holds one folder per installed release
(``codex-VERSION/``, a private ``pip install --target``), ``pointers.json`` (``current``,
``previous``, ``failed``; written atomically) and ``switches.jsonl`` (one record per
switch). The pinned wheel in the runner's own environment is always there, named
``pinned``, and is what runs while no switch made another release current.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from codex_runner.codex.binary import find_codex_binary, release_codex_binary
from codex_runner.codex.errors import CodexBinaryNotFound

PINNED = "pinned"
CODEX_PACKAGE = "openai-codex-cli-bin"
RELEASES_DIR = "releases"
POINTERS_FILE = "pointers.json"
SWITCHES_FILE = "switches.jsonl"
FOLDER_PREFIX = "codex-"
# A release version as PyPI spells it (0.163.0, 0.164.0a1, 1.0.0rc2): nothing pip would
# read as an option or a path.
VERSION_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+){1,3}([a-z]+[0-9]*)?(\.(post|dev)[0-9]+)?$")
MAX_RECORDS_READ = 200


class ReleaseError(Exception):
    """A release that cannot be used as asked (unknown, not installed, a bad version)."""


def check_version(text: str) -> str:
    """``text`` when it reads as a Codex release version; ReleaseError naming the fix else."""
    value = text.strip()
    if not VERSION_PATTERN.match(value):
        raise ReleaseError(
            f"{text!r} is not a Codex release version; give one as PyPI lists it for "
            f"{CODEX_PACKAGE}, e.g. 0.163.0"
        )
    return value


def pinned_version() -> str:
    """The version of the pinned wheel installed with the runner ('unknown' when broken)."""
    try:
        return version(CODEX_PACKAGE)
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Release:
    """One Codex the runner can run: ``name`` is ``pinned`` or the installed version."""

    name: str
    version: str
    binary: Path
    folder: Path | None  # None for the pinned wheel

    @property
    def pinned(self) -> bool:
        return self.name == PINNED


@dataclass(frozen=True)
class Pointers:
    """Which release runs (``current``; None: the pinned wheel), which ran before it
    (``previous``: what rollback goes back to) and which last failed its check."""

    current: str | None = None
    previous: str | None = None
    failed: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pointers:
        def name(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return cls(name("current"), name("previous"), name("failed"))


@dataclass(frozen=True)
class SwitchRecord:
    """One switch: who asked, when, from which release to which, and how it ended."""

    at: str
    who: str
    action: str  # use | rollback
    from_release: str
    to_release: str
    result: str  # switched | rolled_back | refused
    message: str
    check: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwitchRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class ReleasesHome:
    """The releases folder of one runner home; every read looks at the disk again."""

    def __init__(self, home: Path, *, pinned: Release | None = None) -> None:
        """``pinned`` replaces the runner's own wheel (tests)."""
        self.root = home / RELEASES_DIR
        self._pinned = pinned

    def pinned(self) -> Release:
        if self._pinned is not None:
            return self._pinned
        return Release(PINNED, pinned_version(), find_codex_binary(None), None)

    def folder(self, version: str) -> Path:
        return self.root / f"{FOLDER_PREFIX}{check_version(version)}"

    def installed(self) -> list[Release]:
        """The installed releases, oldest version first (a broken folder is left out)."""
        found: list[Release] = []
        if not self.root.is_dir():
            return found
        for folder in self.root.iterdir():
            name = folder.name.removeprefix(FOLDER_PREFIX)
            if folder.name == name or not VERSION_PATTERN.match(name):
                continue  # pointers, records and unfinished installs (.codex-*.partial)
            try:
                found.append(Release(name, name, release_codex_binary(folder), folder))
            except CodexBinaryNotFound:
                continue
        return sorted(found, key=lambda r: version_key(r.version))

    def releases(self) -> list[Release]:
        """The pinned wheel, then each installed release."""
        return [self.pinned(), *self.installed()]

    def release(self, name: str) -> Release:
        """``pinned``, an installed version, or the pinned wheel's own version."""
        if name == PINNED:
            return self.pinned()
        wanted = check_version(name)
        for release in self.installed():
            if release.name == wanted:
                return release
        pinned = self.pinned()
        if pinned.version == wanted:
            return pinned
        raise ReleaseError(
            f"Codex {wanted} is not installed; install it first: codex-runner codex install "
            f"{wanted} (installed: {', '.join(r.name for r in self.releases())})"
        )

    def current(self) -> Release:
        """The release the pointers name as current; the pinned wheel when none does, or
        when the named one is gone from disk."""
        name = self.pointers().current
        if name is None:
            return self.pinned()
        try:
            return self.release(name)
        except ReleaseError:
            return self.pinned()

    # pointers ----------------------------------------------------------------------------
    def pointers(self) -> Pointers:
        try:
            data = json.loads((self.root / POINTERS_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return Pointers()
        return Pointers.from_dict(data) if isinstance(data, dict) else Pointers()

    def write_pointers(self, pointers: Pointers) -> None:
        """Replace ``pointers.json`` in one rename: a crash leaves the old or the new file."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".pointers-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(asdict(pointers), out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.root / POINTERS_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # switch records ----------------------------------------------------------------------
    def append_record(self, record: SwitchRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.root / SWITCHES_FILE).open("a") as out:
            out.write(json.dumps(asdict(record)) + "\n")

    def records(self, limit: int = 50) -> list[SwitchRecord]:
        """The last ``limit`` switches, newest first (a line that does not parse is skipped)."""
        try:
            lines = (self.root / SWITCHES_FILE).read_text().splitlines()
        except FileNotFoundError:
            return []
        found: list[SwitchRecord] = []
        for line in reversed(lines[-MAX_RECORDS_READ:]):
            try:
                data = json.loads(line)
                found.append(SwitchRecord.from_dict(data))
            except (json.JSONDecodeError, TypeError):
                continue
            if len(found) >= limit:
                break
        return found


def version_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sorts 0.9.0 before 0.10.0 (numbers as numbers, anything else as text)."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.]", text)
    )
