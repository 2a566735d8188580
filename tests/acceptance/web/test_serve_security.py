"""``codex-runner serve`` and its secrets: a token file others can read stops it, and the
one-time login link it prints carries a code, never the token."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ..daemon.conftest import StartDaemon
from ..daemon.harness import CLI
from .test_admin_page import login_link

pytestmark = pytest.mark.acceptance


def test_serve_refuses_a_token_file_others_can_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    token = home / "api-token"
    token.write_text("some-token-0123456789\n")
    os.chmod(token, 0o644)
    env = {**os.environ, "CODEX_RUNNER_HOME": str(home)}
    done = subprocess.run(
        [*CLI, "serve", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"chmod 600 {token}" in " ".join(done.stderr.split())
    assert not (home / "daemon.json").exists()


async def test_serve_prints_a_login_link_without_the_token(start_daemon: StartDaemon) -> None:
    daemon = await start_daemon()
    link = await login_link(daemon)
    token = (daemon.home / "api-token").read_text().strip()
    assert link.startswith(f"{daemon.url}/admin/login?once=")
    assert token not in daemon.log.read_text()
    assert os.stat(daemon.home / "api-token").st_mode & 0o077 == 0
