"""Task start with a worktree: ``GitWorktrees.create`` vs a bare ``git worktree add -b``.

Both run in one process, in one run, on the same generated repository (default 20,000
files), in alternating order; the first round warms caches and is dropped.
Target: codex-runner's create within 1.2x of the bare command.

Run: ``.venv/bin/python bench/worktree_start.py [--files N] [--rounds R] [--dir PATH]``
(a tmpfs ``--dir`` such as /dev/shm gives steadier numbers than a busy disk).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from codex_runner.domain.task import WorkspaceRequest
from codex_runner.workspace.git_worktrees import GitWorktrees
from verdicts import report

IDENTITY = ("-c", "user.name=bench", "-c", "user.email=bench@localhost")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *IDENTITY, *args], check=True, capture_output=True)


def make_repo(path: Path, files: int) -> None:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for i in range(files):
        folder = path / f"pkg{i % 200:03d}" / f"sub{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.py").write_text(f"# file {i}\n" + "x = 1\n" * 20)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")


def bare_create(repo: Path, root: Path, name: str) -> float:
    started = time.perf_counter()
    git(repo, "worktree", "add", "-q", "-b", f"bare/{name}", str(root / name), "HEAD")
    elapsed = time.perf_counter() - started
    git(repo, "worktree", "remove", "--force", str(root / name))
    git(repo, "branch", "-D", "-q", f"bare/{name}")
    return elapsed


async def runner_create(worktrees: GitWorktrees, repo: Path, task_id: str) -> float:
    started = time.perf_counter()
    workspace = await worktrees.create(task_id, WorkspaceRequest(repo=str(repo)))
    elapsed = time.perf_counter() - started
    await worktrees.remove(workspace, force=True)
    return elapsed


async def main(files: int, rounds: int, base: Path | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="codex-runner-wt-bench-", dir=base))
    try:
        repo = tmp / "repo"
        make_repo(repo, files)
        bare_root = tmp / "bare"
        bare_root.mkdir()
        worktrees = GitWorktrees(tmp / "worktrees")
        bare: list[float] = []
        ours: list[float] = []
        for r in range(rounds + 1):
            order = ("bare", "ours") if r % 2 == 0 else ("ours", "bare")
            for which in order:
                if which == "bare":
                    sample = bare_create(repo, bare_root, f"t{r}")
                else:
                    sample = await runner_create(worktrees, repo, f"t_bench{r}")
                if r:
                    (bare if which == "bare" else ours).append(sample)
        bare_ms = statistics.median(bare) * 1000
        ours_ms = statistics.median(ours) * 1000
        print(f"\nworktree creation, {files} files, median of {rounds} rounds\n")
        print("| path                        | median ms | vs bare |")
        print("|-----------------------------|-----------|---------|")
        print(f"| bare git worktree add -b    | {bare_ms:>9.1f} |   1.00x |")
        print(f"| codex-runner GitWorktrees   | {ours_ms:>9.1f} | {ours_ms / bare_ms:>6.2f}x |")
        ratio = ours_ms / bare_ms
        report("worktree start", "codex-runner / bare", f"{ratio:.3f}x", "<= 1.2x", ratio <= 1.2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="where the repository goes")
    args = parser.parse_args()
    asyncio.run(main(args.files, args.rounds, args.dir))
