"""A session's files: its workspace, its helper credentials, and what its first turn is told.

Layout under ``$CODEX_RUNNER_HOME``::

    sessions/<key>/workspace/     where Codex runs (its cwd)
    sessions/<key>/session.json   0600: daemon URL, API token, this session's helper key
    sessions/<key>/images/        image attachments passed to Codex
    sessions/<key>/outbox/        files the agent posted, until Slack has them
    repos/                        shared clone cache offered to every session

Codex's environment is fixed for its whole app-server process, so per-session identity
reaches the agent through ``session.json`` (outside the workspace, readable by the agent);
the first turn's prompt says where it is. The helper key is random per daemon start.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from codex_runner.runner_home.secret_files import write_private

SESSION_HEADER = "X-Codex-Runner-Session"


@dataclass(frozen=True)
class SessionFiles:
    root: Path

    @classmethod
    def of(cls, sessions_dir: Path, key: str) -> SessionFiles:
        return cls(sessions_dir / key)

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def credentials(self) -> Path:
        return self.root / "session.json"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def spool(self) -> Path:
        return self.root / "outbox"

    def create(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.images.mkdir(exist_ok=True)
        self.spool.mkdir(exist_ok=True)

    def write_credentials(
        self, *, daemon_url: str, helper_key: str, channel: str, thread_ts: str
    ) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_private(
            self.credentials,
            json.dumps(
                {
                    "url": daemon_url.rstrip("/"),
                    "session_key": helper_key,
                    "header": SESSION_HEADER,
                    "channel_id": channel,
                    "thread_ts": thread_ts,
                },
                indent=2,
            )
            + "\n",
        )


def new_helper_key() -> str:
    return "sk_" + secrets.token_urlsafe(24)


def session_notes(files: SessionFiles, repos_dir: Path) -> str:
    """What the first turn tells the agent about its session (no secret in it)."""
    creds = files.credentials
    return f"""

---
You are working for people in a Slack thread; your messages are posted there.
Your workspace is {files.workspace} (your current directory).
A shared clone cache is at {repos_dir}: to work on a repository, clone it inside your
workspace, borrowing objects from the cache when it has a copy, e.g.
`git clone --reference-if-able {repos_dir}/NAME.git URL NAME`.
Helper endpoints of the runner (read `url` and `session_key` from {creds}; send
`{SESSION_HEADER}: <session_key>` with each call, and POST bodies as JSON with
`Content-Type: application/json`):
- GET  <url>/slack/thread-history?limit=20&format=text   earlier messages of this thread
- POST <url>/slack/post-message  {{"text": "markdown"}}   post into this thread
- POST <url>/slack/post-file     {{"file_path": "path/in/workspace"}} or
  {{"content_base64": "...", "filename": "name.ext"}}      share a file in this thread
- POST <url>/v1/jobs {{"command": "make test"}}            a background job in your workspace
  that outlives this turn; its exit status and output tail come back to you as a message"""
