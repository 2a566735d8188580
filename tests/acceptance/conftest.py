"""Acceptance fixtures: the real codex binary against the scripted model, in temp homes."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from codex_runner.config import RunnerConfig, load_config
from codex_runner.mockmodel import MockModelServer, Script

# Shared by the app-server and exec acceptance tests.
RULES: list[dict[str, Any]] = [
    {"match": "hello", "responses": [[{"message": "Hi there"}]]},
    {
        "match": "create a file",
        "responses": [[{"shell": "echo created > f.txt"}], [{"message": "Created f.txt"}]],
    },
    {
        "match": "touch approved",
        "responses": [[{"shell": "touch approved.txt"}], [{"message": "ok"}]],
    },
    {
        "match": "touch declined",
        "responses": [[{"shell": "touch declined.txt"}], [{"message": "ok"}]],
    },
    {"match": "what did I say", "responses": [[{"echo": True}]]},
    {
        "match": "long job",
        "responses": [[{"shell": "sleep 3"}], [{"message": "long job finished"}]],
    },
    # A command that would outlive its turn: its odd duration finds it among the processes.
    {
        "match": "run the long command",
        "responses": [[{"shell": "sleep 61.25"}], [{"message": "x"}]],
    },
    {"match": "steer-extra", "responses": [[{"message": "steered: extra seen"}]]},
    {"match": "slow", "responses": [[{"delay": 60}, {"message": "late"}]]},
    {"match": "server error", "responses": [[{"http_error": 500}]]},
    {"match": "cut stream", "responses": [[{"cut": True}]]},
    {"match": "hang forever", "responses": [[{"hang": True}]]},
]

ConfigFactory = Callable[..., RunnerConfig]


def wants_websockets(request: pytest.FixtureRequest) -> bool:
    """Whether the test is marked ``model_websockets`` (Codex calls the model over them)."""
    return request.node.get_closest_marker("model_websockets") is not None


@pytest.fixture
async def model(request: pytest.FixtureRequest) -> AsyncIterator[MockModelServer]:
    script = Script.from_dict({"rules": RULES})
    async with MockModelServer(script, port=0, websockets=wants_websockets(request)) as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    (path / "README.md").write_text("# test repo\n")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True, timeout=30)
    subprocess.run([*git, "add", "."], check=True, timeout=30)
    subprocess.run([*git, "commit", "-qm", "init"], check=True, timeout=30)
    return path


@pytest.fixture
def make_config(
    tmp_path: Path, model: MockModelServer, monkeypatch: pytest.MonkeyPatch
) -> ConfigFactory:
    """A runner home whose Codex talks to the scripted model; settings go to [codex]."""
    monkeypatch.setenv("MOCK_API_KEY", "test-key")

    def make(**codex: Any) -> RunnerConfig:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        settings = {"config": model.codex_config(), **codex}
        (home / "config.toml").write_text(tomli_w.dumps({"codex": settings}))
        return load_config(home)

    return make
