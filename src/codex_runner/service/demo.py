"""The offline demo: a real Codex turn against the scripted model in a scratch repository.

A newcomer sees the whole path work with no OpenAI account: the scripted model asks Codex
to run a command, write a file and run a command that needs approval, which is granted.
"""

from __future__ import annotations

import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import tomli_w

from codex_runner.codex.approval_policies import fixed_decision
from codex_runner.codex.runtime import TurnResult
from codex_runner.config import load_config
from codex_runner.mockmodel import MockModelServer, load_script
from codex_runner.service.single_turn import CodexEventHandler, run_single_turn

DEMO_PROMPT = "run the demo"


def demo_script_path() -> Path:
    return Path(str(resources.files("codex_runner.mockmodel") / "scripts" / "demo.yaml"))


def make_scratch_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("# demo repository\n")
    git = ["git", "-C", str(repo), "-c", "user.name=demo", "-c", "user.email=demo@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, timeout=30)
    subprocess.run([*git, "add", "."], check=True, timeout=30)
    subprocess.run([*git, "commit", "-qm", "initial"], check=True, timeout=30)
    return repo


async def run_demo(
    on_event: CodexEventHandler, runtime: str = "app-server"
) -> tuple[TurnResult, Path]:
    """Run the demo turn; returns its result and the scratch repository (kept for a look)."""
    root = Path(tempfile.mkdtemp(prefix="codex-runner-demo-"))
    repo = make_scratch_repo(root)
    home = root / "home"
    home.mkdir()
    async with MockModelServer(load_script(demo_script_path()), port=0) as server:
        settings = {
            "runtime": runtime,
            "sandbox": "workspace-write",
            "approval_policy": "untrusted",
            "env_allowlist": ["MOCK_API_KEY"],
            "config": server.codex_config(),
        }
        (home / "config.toml").write_text(tomli_w.dumps({"codex": settings}))
        config = load_config(home)
        result = await run_single_turn(
            config,
            DEMO_PROMPT,
            repo,
            on_event=on_event,
            approvals=fixed_decision("accept"),
        )
    return result, repo
