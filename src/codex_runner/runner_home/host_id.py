"""This home's host id: made once, kept in ``$CODEX_RUNNER_HOME/host-id``, so a restarted
serve is the same host (its tasks are its own to reconcile) and two homes are two hosts."""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path

HOST_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")


def host_id(home: Path) -> str:
    path = home / "host-id"
    try:
        found = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        found = ""
    if HOST_ID.fullmatch(found):
        return found
    name = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-")[:40] or "host"
    made = f"{name}-{secrets.token_hex(4)}"
    home.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(made + "\n", encoding="utf-8")
    os.replace(partial, path)
    return made
