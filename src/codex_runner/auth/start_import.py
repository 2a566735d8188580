"""An auth.json handed to the runner at start (``CODEX_AUTH_JSON_PATH`` or ``[auth]
import_from``) becomes an auth profile, once.

Where it goes: the default profile when that has no auth.json yet (a fresh runner then just
works), else a profile named ``imported``. Once: the file's digest is recorded
(``auth-import.json`` in the runner home), and a later start with the same content imports
nothing. Codex refreshes its tokens in the profile's own copy, so importing the same, older
file again would undo that; a file with new content is imported again, into the same
profile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from codex_runner.auth.profile_store import AUTH_FILE, ProfileError, ProfileStore
from codex_runner.config import DEFAULT_PROFILE, RunnerConfig
from codex_runner.runner_home.secret_files import write_private

log = logging.getLogger(__name__)

ENV = "CODEX_AUTH_JSON_PATH"
RECORD = "auth-import.json"
IMPORTED_PROFILE = "imported"


@dataclass(frozen=True)
class StartImport:
    profile: str
    source: Path
    imported: bool  # False: the same file was imported at an earlier start


def import_source(config: RunnerConfig) -> Path | None:
    """The auth.json to import: ``CODEX_AUTH_JSON_PATH`` first, then ``[auth] import_from``
    (a relative path is the runner home's)."""
    named = os.environ.get(ENV) or config.auth.import_from
    if not named:
        return None
    return config.home / Path(named).expanduser()


def import_at_start(config: RunnerConfig) -> StartImport | None:
    """Import the start auth.json if there is one and it is new; ProfileError names a file
    that cannot be read or is not a Codex auth.json (and how to fix it)."""
    source = import_source(config)
    if source is None:
        return None
    try:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError as exc:
        where = "CODEX_AUTH_JSON_PATH" if os.environ.get(ENV) else "[auth] import_from"
        raise ProfileError(
            f"{where} names {source}, which cannot be read ({exc.strerror}); fix the path or "
            "unset it"
        ) from None
    record_path = config.home / RECORD
    record = _read_record(record_path)
    if record.get("sha256") == digest:
        return StartImport(str(record.get("profile")), source, imported=False)
    store = ProfileStore(config.home)
    profile = record.get("profile") or _target(store)
    store.import_auth(str(profile), source, replace=True)
    written = {"source": str(source), "sha256": digest, "profile": profile}
    write_private(record_path, json.dumps(written, indent=2) + "\n")
    log.info("imported %s as auth profile %r", source, profile)
    return StartImport(str(profile), source, imported=True)


def _target(store: ProfileStore) -> str:
    if not (store.codex_home(DEFAULT_PROFILE) / AUTH_FILE).exists():
        return DEFAULT_PROFILE
    return IMPORTED_PROFILE


def _read_record(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
