"""Real git repositories in tmp_path, with git isolated from the machine's configuration."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

Git = Callable[..., str]
TEST_IDENTITY = ("-c", "user.name=Test Person", "-c", "user.email=test@example.com")


def run_git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` (as a test author) and return its stripped stdout."""
    done = subprocess.run(
        ["git", "-C", str(cwd), *TEST_IDENTITY, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class GitRepo:
    path: Path
    head: str  # main's commit
    feature: str  # the commit of branch "feature" (and tag "v1")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config (so no identity), and no git variables from outside."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_NAME", "EMAIL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git() -> Git:
    return run_git


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """main: README.md, src/app.py, .gitignore (*.log); feature (tag v1): plus feature.txt."""
    path = tmp_path / "repo"
    path.mkdir()
    run_git(path, "init", "--quiet", "--initial-branch=main")
    (path / "README.md").write_text("hello\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('one')\nprint('two')\n")
    (path / ".gitignore").write_text("*.log\n")
    run_git(path, "add", "--all")
    run_git(path, "commit", "--quiet", "-m", "initial")
    head = run_git(path, "rev-parse", "HEAD")
    run_git(path, "switch", "--quiet", "-c", "feature")
    (path / "feature.txt").write_text("feature\n")
    run_git(path, "add", "feature.txt")
    run_git(path, "commit", "--quiet", "-m", "feature")
    feature = run_git(path, "rev-parse", "HEAD")
    run_git(path, "tag", "v1")
    run_git(path, "switch", "--quiet", "main")
    return GitRepo(path=path, head=head, feature=feature)
