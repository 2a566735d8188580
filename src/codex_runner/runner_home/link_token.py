"""The link's token: from CODEX_RUNNER_LINK_TOKEN, else ``[link] token_file`` (0600).

It is read once at start and then only handed to the Phoenix client, which never puts it
in an error; nothing else keeps or prints it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from codex_runner.config import LinkSettings

TOKEN_ENV = "CODEX_RUNNER_LINK_TOKEN"


class LinkTokenError(ValueError):
    """No usable token; the message says where to put one."""


def link_token(settings: LinkSettings, environ: Mapping[str, str] = os.environ) -> str:
    if token := environ.get(TOKEN_ENV, "").strip():
        return token
    if settings.token_file is None:
        raise LinkTokenError(
            f"the link has no token: set {TOKEN_ENV}, or [link] token_file to a file "
            "holding it (mode 0600)"
        )
    path = Path(settings.token_file).expanduser()
    try:
        info = path.stat()
        if info.st_mode & 0o077:
            raise LinkTokenError(
                f"{path} can be read by others (mode {stat.S_IMODE(info.st_mode):o}); "
                f"run `chmod 600 {path}`"
            )
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise LinkTokenError(f"cannot read the link's token_file {path}: {exc.strerror}") from None
    if not token:
        raise LinkTokenError(f"{path} is empty: write the link's token in it")
    return token
