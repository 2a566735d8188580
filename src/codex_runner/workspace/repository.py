"""The repository a task's worktree is made from, as git reports it: its top level, its
common git dir and a ref's commit, in one ``git rev-parse``, with errors that say what is
wrong with the path or the ref and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codex_runner.workspace.git_process import GitRunner
from codex_runner.workspace.protocol import NotAGitRepository, UnknownRef


@dataclass(frozen=True)
class Repository:
    """A repository's top level and common git dir, as ``git rev-parse`` reports them."""

    top: Path
    common_dir: Path
    commit: str | None  # the base ref's commit, when one was asked for


async def resolve_repository(git: GitRunner, repo: Path, ref: str | None) -> Repository:
    """The repository's top level and common git dir, and ``ref``'s commit (one git call).

    Raises NotAGitRepository (missing, not a directory, not a repository's top level, no
    commits yet) and UnknownRef (``ref`` names no commit).
    """
    _require_repository_directory(repo)
    if ref is not None and (not ref.strip() or ref.startswith("-")):
        raise UnknownRef(repo, ref)
    args = ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"]
    if ref is not None:
        args += ["--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
    result = await git.run(args, cwd=repo, check=False)
    lines = result.text.splitlines()
    if result.returncode not in (0, 1) or len(lines) < 2:
        problem = result.stderr.strip().removeprefix("fatal: ") or "git rev-parse failed"
        raise NotAGitRepository(repo, problem)
    top = Path(lines[0])
    if not _same_directory(top, repo):
        raise NotAGitRepository(repo, f"it is inside the repository {top}, not its top level")
    if result.returncode == 1 or (ref is not None and len(lines) < 3):
        if ref == "HEAD":
            raise NotAGitRepository(repo, "it has no commits yet")
        raise UnknownRef(repo, ref or "HEAD")
    commit = lines[2] if ref is not None else None
    return Repository(top=top, common_dir=Path(lines[1]), commit=commit)


def plain_top(repo: Path) -> Path | None:
    """``repo``'s top level (as git names it) when it has the usual layout, a ``.git``
    directory of its own; None otherwise."""
    return repo.resolve() if (repo / ".git").is_dir() else None


def _require_repository_directory(repo: Path) -> None:
    if not repo.exists():
        raise NotAGitRepository(repo, "it does not exist")
    if not repo.is_dir():
        raise NotAGitRepository(repo, "it is not a directory")


def _same_directory(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()
