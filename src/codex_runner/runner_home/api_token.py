"""The API token: generated at first start into ``$CODEX_RUNNER_HOME/api-token`` (0600)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from codex_runner.runner_home.secret_files import check_private, write_private

TOKEN_FILE = "api-token"


class TokenMissing(Exception):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"no API token at {path}: start the daemon once with `codex-runner serve` "
            "(it creates the token), or set CODEX_RUNNER_HOME to the daemon's home"
        )


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE


def ensure_token(home: Path) -> str:
    """The daemon's token, created on first start; refuses a token file others can read."""
    path = token_path(home)
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32) + "\n")
    check_private(path)
    return path.read_text(encoding="utf-8").strip()


def read_token(home: Path) -> str:
    """The token for a client (the CLI); raises TokenMissing or UnsafeSecretFile."""
    path = token_path(home)
    if not path.exists():
        raise TokenMissing(path)
    check_private(path)
    return path.read_text(encoding="utf-8").strip()


def token_matches(expected: str, presented: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(expected.encode(), presented.encode())
