"""GitWorktrees against real git repositories in tmp_path."""

from __future__ import annotations

import os
import select
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_runner.domain.task import WorkspaceRequest
from codex_runner.workspace.git_worktrees import GitWorktrees
from codex_runner.workspace.numstat import parse_numstat
from codex_runner.workspace.protocol import (
    DirectoryMissing,
    FileStat,
    FinishedWorkspace,
    GitFailed,
    KeepReason,
    NotAGitRepository,
    NotOnTaskBranch,
    UnknownRef,
    UnmergedWork,
    WorkspaceExists,
    WorkspaceKind,
)

from .conftest import Git, GitRepo

NOW = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def worktrees(tmp_path: Path) -> GitWorktrees:
    return GitWorktrees(tmp_path / "worktrees", clock=lambda: NOW)


def task_branches(git: Git, repo: GitRepo) -> list[str]:
    return git(repo.path, "branch", "--list", "codex-runner/*", "--format=%(refname:short)").split()


def registered_worktrees(git: Git, repo: GitRepo) -> int:
    return git(repo.path, "worktree", "list", "--porcelain").count("worktree ")


def assert_nothing_created(git: Git, repo: GitRepo, worktrees: GitWorktrees) -> None:
    assert not worktrees.root.exists() or not any(worktrees.root.iterdir())
    assert task_branches(git, repo) == []
    assert registered_worktrees(git, repo) == 1


def assert_process_ends(pid: int) -> None:
    """Wait (bounded, event-driven) for ``pid`` to exit; a pidfd turns readable when it does."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already exited and reaped
    try:
        assert select.select([pidfd], [], [], 10)[0] == [pidfd], f"process {pid} still runs"
    finally:
        os.close(pidfd)


# --- create ----------------------------------------------------------------------------------


async def test_create_checks_out_the_repos_head_on_the_task_branch(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))

    assert ws.kind is WorkspaceKind.WORKTREE
    assert ws.path == worktrees.root / "t_1"
    assert ws.branch == "codex-runner/t_1"
    assert ws.base_commit == repo.head
    assert ws.repo == repo.path.resolve()
    assert git(ws.path, "branch", "--show-current") == "codex-runner/t_1"
    assert (ws.path / "README.md").read_text() == "hello\n"
    assert not (ws.path / "feature.txt").exists()
    assert git(repo.path, "branch", "--show-current") == "main"


@pytest.mark.parametrize("ref", ["feature", "v1", "refs/heads/feature"])
async def test_create_from_a_named_ref_starts_at_that_refs_commit(
    worktrees: GitWorktrees, repo: GitRepo, git: Git, ref: str
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path), base_ref=ref))

    assert ws.base_commit == repo.feature
    assert git(ws.path, "rev-parse", "HEAD") == repo.feature
    assert (ws.path / "feature.txt").exists()


async def test_create_accepts_the_spec_stored_on_a_task(
    worktrees: GitWorktrees, repo: GitRepo
) -> None:
    spec = WorkspaceRequest.git(str(repo.path), "feature")

    ws = await worktrees.create("t_1", spec)

    assert ws.base_commit == repo.feature


async def test_create_again_for_the_same_task_returns_the_same_worktree_with_its_work(
    worktrees: GitWorktrees, repo: GitRepo
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path))
    first = await worktrees.create("t_1", spec)
    (first.path / "work.txt").write_text("in progress\n")

    again = await worktrees.create("t_1", spec)

    assert again == first
    assert (again.path / "work.txt").read_text() == "in progress\n"


async def test_create_of_a_new_worktree_runs_one_git_command(
    repo: GitRepo, git: Git, tmp_path: Path
) -> None:
    calls = tmp_path / "git-calls"
    counting_git = tmp_path / "counting-git"
    counting_git.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec git "$@"\n')
    counting_git.chmod(0o755)
    worktrees = GitWorktrees(tmp_path / "worktrees", git=str(counting_git))

    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path), base_ref="v1"))

    assert [line.split()[2:4] for line in calls.read_text().splitlines()] == [["worktree", "add"]]
    assert ws.base_commit == repo.feature == git(ws.path, "rev-parse", "HEAD")
    assert ws.repo == repo.path.resolve()
    assert await worktrees.locate("t_1", WorkspaceRequest(repo=str(repo.path))) == ws


async def test_create_with_a_ref_naming_no_commit_says_so_and_makes_nothing(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    request = WorkspaceRequest(repo=str(repo.path), base_ref="no-such-branch")
    with pytest.raises(UnknownRef, match="no-such-branch"):
        await worktrees.create("t_1", request)

    assert_nothing_created(git, repo, worktrees)


async def test_create_and_locate_of_a_worktree_made_earlier_run_no_git(
    worktrees: GitWorktrees, repo: GitRepo, tmp_path: Path
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path), base_ref="feature")
    first = await worktrees.create("t_1", spec)
    # The same root with a git that cannot run: any git call would raise GitFailed.
    no_git = GitWorktrees(worktrees.root, git=str(tmp_path / "no-such-git"))

    assert await no_git.create("t_1", spec) == first
    assert await no_git.locate("t_1", spec) == first


async def test_create_of_a_worktree_made_earlier_works_after_its_base_ref_is_gone(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path), base_ref="feature")
    first = await worktrees.create("t_1", spec)
    git(repo.path, "branch", "--quiet", "--delete", "--force", "feature")

    assert await worktrees.create("t_1", spec) == first


async def test_create_still_refuses_a_worktree_switched_off_its_branch_since(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path))
    first = await worktrees.create("t_1", spec)
    git(first.path, "switch", "--quiet", "--detach")

    with pytest.raises(WorkspaceExists, match="not branch codex-runner/t_1"):
        await worktrees.create("t_1", spec)


async def test_create_keeps_the_recorded_base_even_when_the_base_ref_moved_since(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path))
    first = await worktrees.create("t_1", spec)
    git(repo.path, "merge", "--quiet", "--ff-only", "feature")

    again = await worktrees.create("t_1", spec)

    assert again.base_commit == first.base_commit == repo.head


async def test_create_restores_a_worktree_deleted_by_hand_from_its_branch(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    import shutil

    spec = WorkspaceRequest(repo=str(repo.path))
    ws = await worktrees.create("t_1", spec)
    (ws.path / "work.txt").write_text("done\n")
    summary = await worktrees.commit_changes(ws, "work")
    assert summary is not None
    shutil.rmtree(ws.path)

    again = await worktrees.create("t_1", spec)

    assert again.base_commit == repo.head
    assert (again.path / "work.txt").read_text() == "done\n"
    assert git(again.path, "rev-parse", "HEAD") == summary.commit


async def test_another_host_on_the_same_repository_continues_the_task_branch(
    tmp_path: Path, repo: GitRepo, git: Git
) -> None:
    """Two hosts (two homes) on one machine share the repository: the second makes its own
    worktree of the branch the first one's worktree still holds, with the work on it."""
    spec = WorkspaceRequest(repo=str(repo.path))
    first = GitWorktrees(tmp_path / "a" / "worktrees", clock=lambda: NOW)
    ws = await first.create("t_1", spec)
    (ws.path / "work.txt").write_text("done on a\n")
    summary = await first.commit_changes(ws, "work")
    assert summary is not None

    second = GitWorktrees(tmp_path / "b" / "worktrees", clock=lambda: NOW)
    moved = await second.create("t_1", spec)

    assert moved.path != ws.path and moved.base_commit == repo.head
    assert (moved.path / "work.txt").read_text() == "done on a\n"
    assert git(moved.path, "rev-parse", "HEAD") == summary.commit


async def test_with_push_branches_a_host_with_its_own_clone_continues_the_task_branch(
    tmp_path: Path, repo: GitRepo, git: Git
) -> None:
    """Each host has its own clone of one origin: a commit is pushed there, and the host
    that runs the task next fetches the branch before it makes its worktree."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo.path), str(origin))
    clones = []
    for name in ("a", "b"):
        git(tmp_path, "clone", "--quiet", str(origin), str(tmp_path / f"clone-{name}"))
        clones.append(tmp_path / f"clone-{name}")
    first = GitWorktrees(tmp_path / "a" / "worktrees", clock=lambda: NOW, push_branches=True)
    ws = await first.create("t_1", WorkspaceRequest(repo=str(clones[0])))
    (ws.path / "work.txt").write_text("done on a\n")
    summary = await first.commit_changes(ws, "work")
    assert summary is not None

    second = GitWorktrees(tmp_path / "b" / "worktrees", clock=lambda: NOW, push_branches=True)
    moved = await second.create("t_1", WorkspaceRequest(repo=str(clones[1])))

    assert (moved.path / "work.txt").read_text() == "done on a\n"
    assert git(moved.path, "rev-parse", "HEAD") == summary.commit


async def test_many_hosts_making_worktrees_of_one_repository_at_once_all_succeed(
    tmp_path: Path, repo: GitRepo
) -> None:
    """git worktree add reads the other worktrees' admin files; a half-written one (a
    concurrent add here, or by another host on this machine) would fail it: they queue."""
    import asyncio

    hosts = [GitWorktrees(tmp_path / f"h{n}" / "worktrees", clock=lambda: NOW) for n in range(4)]
    spec = WorkspaceRequest(repo=str(repo.path))
    made = await asyncio.gather(*(hosts[n % 4].create(f"t_{n}", spec) for n in range(16)))
    assert len({w.path for w in made}) == 16


async def test_a_failed_create_keeps_a_task_branch_that_holds_work(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    import shutil

    spec = WorkspaceRequest(repo=str(repo.path))
    ws = await worktrees.create("t_1", spec)
    (ws.path / "work.txt").write_text("done\n")
    summary = await worktrees.commit_changes(ws, "work")
    assert summary is not None
    shutil.rmtree(ws.path)
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho hook says no >&2\nexit 3\n")
    hook.chmod(0o755)

    with pytest.raises(GitFailed, match="hook says no"):
        await worktrees.create("t_1", spec)
    # However a create ends, it cleans up after itself only: a branch made before stays.
    await worktrees._undo_fresh(repo.path, ws.path, "codex-runner/t_1", "HEAD")

    assert git(repo.path, "rev-parse", "codex-runner/t_1") == summary.commit
    assert not ws.path.exists()


async def test_create_redoes_a_worktree_whose_checkout_was_cut_short_by_a_crash(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path))
    ws = await worktrees.create("t_1", spec)
    # What `git worktree add` leaves when killed mid-checkout: the "initializing" lock.
    admin = Path(git(ws.path, "rev-parse", "--absolute-git-dir"))
    (admin / "locked").write_text("initializing")
    (ws.path / "README.md").unlink()

    again = await worktrees.create("t_1", spec)

    assert again.base_commit == repo.head
    assert (again.path / "README.md").read_text() == "hello\n"
    assert not (Path(git(again.path, "rev-parse", "--absolute-git-dir")) / "locked").exists()


async def test_create_refuses_a_path_taken_by_another_repositorys_worktree(
    worktrees: GitWorktrees, repo: GitRepo, git: Git, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "--quiet")
    git(other, "commit", "--quiet", "--allow-empty", "-m", "x")
    worktrees.root.mkdir()
    git(other, "worktree", "add", "--quiet", "-b", "codex-runner/t_1", str(worktrees.root / "t_1"))

    with pytest.raises(WorkspaceExists, match="another repository"):
        await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    assert task_branches(git, repo) == []


async def test_create_removes_the_branch_and_worktree_it_made_when_git_fails(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\necho hook says no >&2\nexit 3\n")
    hook.chmod(0o755)

    with pytest.raises(GitFailed, match="hook says no"):
        await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))

    assert_nothing_created(git, repo, worktrees)


async def test_a_git_call_that_hangs_is_killed_with_its_children_and_create_cleans_up(
    tmp_path: Path, repo: GitRepo, git: Git
) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    pid_file = tmp_path / "hook.pid"
    hook = repo.path / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec cat {fifo}\n")  # blocks forever
    hook.chmod(0o755)
    worktrees = GitWorktrees(tmp_path / "worktrees", timeout_s=1.0)

    with pytest.raises(GitFailed, match="no answer within"):
        await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))

    assert_process_ends(int(pid_file.read_text()))
    hook.unlink()
    assert_nothing_created(git, repo, worktrees)


async def test_create_ignores_git_variables_leaked_from_a_parent_git_process(
    tmp_path: Path, repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere-index"))
    worktrees = GitWorktrees(tmp_path / "worktrees")

    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))

    assert ws.base_commit == repo.head


async def test_create_rejects_a_task_id_that_cannot_name_a_branch(
    worktrees: GitWorktrees, repo: GitRepo
) -> None:
    with pytest.raises(ValueError, match="task id"):
        await worktrees.create("../escape", WorkspaceRequest(repo=str(repo.path)))


# --- validate --------------------------------------------------------------------------------


async def test_validate_names_each_bad_input_and_creates_nothing(
    worktrees: GitWorktrees, repo: GitRepo, git: Git, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "--quiet")
    cases: list[tuple[WorkspaceRequest, type[Exception], str]] = [
        (WorkspaceRequest(repo=str(tmp_path / "missing")), NotAGitRepository, "does not exist"),
        (WorkspaceRequest(repo=str(repo.path / "README.md")), NotAGitRepository, "not a directory"),
        (WorkspaceRequest(repo=str(plain)), NotAGitRepository, "not a git repository"),
        (WorkspaceRequest(repo=str(repo.path / "src")), NotAGitRepository, "not its top level"),
        (WorkspaceRequest(repo=str(empty)), NotAGitRepository, "no commits"),
        (
            WorkspaceRequest(repo=str(repo.path), base_ref="nope"),
            UnknownRef,
            "'nope' does not name",
        ),
        (WorkspaceRequest(repo=str(repo.path), base_ref="--help"), UnknownRef, "--help"),
        (
            WorkspaceRequest(cwd=str(tmp_path / "missing")),
            DirectoryMissing,
            "not an existing directory",
        ),
    ]
    for spec, error, message in cases:
        with pytest.raises(error, match=message):
            await worktrees.validate(spec)
        with pytest.raises(error, match=message):
            await worktrees.create("t_1", spec)
    assert_nothing_created(git, repo, worktrees)


async def test_validate_accepts_good_input_without_creating_anything(
    worktrees: GitWorktrees, repo: GitRepo, git: Git, tmp_path: Path
) -> None:
    await worktrees.validate(WorkspaceRequest(repo=str(repo.path)))
    await worktrees.validate(WorkspaceRequest(repo=str(repo.path), base_ref="v1"))
    await worktrees.validate(WorkspaceRequest(cwd=str(tmp_path)))

    assert_nothing_created(git, repo, worktrees)


# --- commit, diff ----------------------------------------------------------------------------


async def test_commit_changes_commits_everything_but_ignored_files_as_the_runner(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "README.md").write_text("hello, world\n")  # 1 insertion, 1 deletion
    (ws.path / "notes.txt").write_text("a\nb\n")  # 2 insertions
    (ws.path / "debug.log").write_text("ignored\n")

    summary = await worktrees.commit_changes(ws, "codex: turn 1")

    assert summary is not None
    assert (summary.files_changed, summary.insertions, summary.deletions) == (2, 3, 1)
    assert summary.files == (FileStat("README.md", 1, 1), FileStat("notes.txt", 2, 0))
    assert summary.text == "2 files changed, 3 insertions(+), 1 deletion(-)"
    assert summary.commit == git(repo.path, "rev-parse", "codex-runner/t_1")
    assert git(ws.path, "log", "-1", "--format=%an <%ae>|%cn|%s") == (
        "codex-runner <codex-runner@localhost>|codex-runner|codex: turn 1"
    )
    assert "debug.log" not in git(ws.path, "ls-files")
    assert git(ws.path, "status", "--porcelain") == ""


async def test_commit_changes_without_new_changes_returns_the_branch_summary_and_commits_nothing(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "notes.txt").write_text("a\n")
    first = await worktrees.commit_changes(ws, "turn 1")

    second = await worktrees.commit_changes(ws, "turn 2")

    assert second == first
    assert git(ws.path, "rev-list", "--count", f"{repo.head}..HEAD") == "1"


async def test_commit_changes_on_an_untouched_worktree_reports_no_changes(
    worktrees: GitWorktrees, repo: GitRepo
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))

    summary = await worktrees.commit_changes(ws, "turn 1")

    assert summary is not None
    assert (summary.commit, summary.files_changed, summary.text) == (repo.head, 0, "no changes")


async def test_commit_changes_reports_the_new_tip_whether_the_branch_ref_is_loose_or_packed(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "a.txt").write_text("a\n")
    loose = await worktrees.commit_changes(ws, "turn 1")
    git(repo.path, "pack-refs", "--all")  # no loose ref file left: git is asked instead

    packed = await worktrees.diff_summary(ws)

    assert loose is not None and packed is not None
    assert loose.commit == packed.commit == git(repo.path, "rev-parse", "codex-runner/t_1")
    assert loose.commit != repo.head and packed.files_changed == 1


async def test_commit_changes_refuses_a_worktree_switched_to_another_branch(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    git(ws.path, "switch", "--quiet", "--detach")

    with pytest.raises(NotOnTaskBranch, match="switch codex-runner/t_1") as detached:
        await worktrees.commit_changes(ws, "turn 1")
    assert "is on a detached HEAD" in str(detached.value)

    git(ws.path, "switch", "--quiet", "-c", "elsewhere")
    with pytest.raises(NotOnTaskBranch) as moved:
        await worktrees.commit_changes(ws, "turn 1")
    assert moved.value.head == "elsewhere"


async def test_diff_summary_reports_renames_and_binary_files(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    git(ws.path, "mv", "src/app.py", "src/main.py")
    (ws.path / "logo.bin").write_bytes(b"\x00\x01\x02")
    await worktrees.commit_changes(ws, "turn 1")

    summary = await worktrees.diff_summary(ws)

    assert summary is not None
    assert summary.files == (
        FileStat("logo.bin", 0, 0, binary=True),
        FileStat("src/main.py", 0, 0, old_path="src/app.py"),
    )


def test_numstat_parsing_handles_plain_renamed_and_binary_entries() -> None:
    raw = b"1\t2\ta b.txt\x000\t0\t\x00old name\x00new name\x00-\t-\timg.png\x00"

    assert parse_numstat(raw) == [
        FileStat("a b.txt", 1, 2),
        FileStat("new name", 0, 0, old_path="old name"),
        FileStat("img.png", 0, 0, binary=True),
    ]


async def test_diff_shows_commits_and_uncommitted_work_without_touching_the_index(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "committed.txt").write_text("committed line\n")
    await worktrees.commit_changes(ws, "turn 1")
    (ws.path / "README.md").write_text("edited line\n")
    (ws.path / "untracked.txt").write_text("untracked line\n")
    (ws.path / "debug.log").write_text("ignored line\n")
    status_before = git(ws.path, "status", "--porcelain")

    diff = await worktrees.diff(ws)

    assert "diff --git a/committed.txt b/committed.txt" in diff
    assert "+committed line" in diff
    assert "-hello\n+edited line" in diff
    assert "+untracked line" in diff
    assert "ignored line" not in diff
    # (run_git strips the leading space of " M")
    assert git(ws.path, "status", "--porcelain") == status_before == "M README.md\n?? untracked.txt"


async def test_diff_is_cut_with_a_note_beyond_the_size_bound(tmp_path: Path, repo: GitRepo) -> None:
    worktrees = GitWorktrees(tmp_path / "worktrees", max_diff_bytes=200)
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "big.txt").write_text("x" * 80 + "\n" * 100)

    diff = await worktrees.diff(ws)

    assert diff.endswith("bytes; see `git diff` in the worktree]\n")
    assert len(diff) < 400


# --- remove, gc ------------------------------------------------------------------------------


async def test_remove_refuses_commits_not_merged_into_head_and_says_how_to_force(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "work.txt").write_text("work\n")
    await worktrees.commit_changes(ws, "turn 1")

    with pytest.raises(UnmergedWork, match=r"1 commit on codex-runner/t_1 .*force=True"):
        await worktrees.remove(ws)

    assert ws.path.is_dir()
    assert task_branches(git, repo) == ["codex-runner/t_1"]


async def test_remove_refuses_uncommitted_changes(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "scratch.txt").write_text("not committed\n")

    with pytest.raises(UnmergedWork, match="uncommitted changes"):
        await worktrees.remove(ws)
    assert ws.path.is_dir()


async def test_remove_deletes_worktree_and_branch_once_the_work_is_merged(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "work.txt").write_text("work\n")
    (ws.path / "debug.log").write_text("ignored files do not block removal\n")
    await worktrees.commit_changes(ws, "turn 1")
    git(repo.path, "merge", "--quiet", "--ff-only", "codex-runner/t_1")

    await worktrees.remove(ws)

    assert not ws.path.exists()
    assert task_branches(git, repo) == []
    assert registered_worktrees(git, repo) == 1


async def test_remove_with_force_deletes_unmerged_and_uncommitted_work(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    (ws.path / "work.txt").write_text("work\n")
    await worktrees.commit_changes(ws, "turn 1")
    (ws.path / "scratch.txt").write_text("not committed\n")

    await worktrees.remove(ws, force=True)

    assert not ws.path.exists()
    assert task_branches(git, repo) == []


async def test_remove_of_a_worktree_deleted_by_hand_forgets_it_and_its_branch(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    import shutil

    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    shutil.rmtree(ws.path)

    await worktrees.remove(ws)
    await worktrees.remove(ws)  # and again: nothing left to do

    assert task_branches(git, repo) == []
    assert registered_worktrees(git, repo) == 1


async def test_remove_finds_the_base_commit_when_the_workspace_value_lacks_it(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    # A task started from "feature" (not merged into main): the base commit itself is not
    # the task's work, so a Workspace rebuilt without base_commit must still be removable.
    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path), base_ref="feature"))
    located = await worktrees.locate("t_1", WorkspaceRequest(repo=str(repo.path)))
    assert located == ws

    from dataclasses import replace

    await worktrees.remove(replace(ws, base_commit=None))

    assert task_branches(git, repo) == []


async def test_prune_forgets_worktrees_deleted_by_hand(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    import shutil

    ws = await worktrees.create("t_1", WorkspaceRequest(repo=str(repo.path)))
    shutil.rmtree(ws.path)

    await worktrees.prune(repo.path)

    assert registered_worktrees(git, repo) == 1
    assert task_branches(git, repo) == ["codex-runner/t_1"]  # prune keeps branches


async def test_gc_removes_old_merged_worktrees_and_keeps_recent_and_unmerged_ones(
    worktrees: GitWorktrees, repo: GitRepo, git: Git
) -> None:
    spec = WorkspaceRequest(repo=str(repo.path))
    old_clean = await worktrees.create("t_old", spec)
    recent = await worktrees.create("t_recent", spec)
    unmerged = await worktrees.create("t_unmerged", spec)
    (unmerged.path / "work.txt").write_text("work\n")
    await worktrees.commit_changes(unmerged, "turn 1")
    old = NOW - timedelta(days=8)
    finished = [
        FinishedWorkspace(old_clean, old),
        FinishedWorkspace(recent, NOW - timedelta(hours=1)),
        FinishedWorkspace(unmerged, old),
    ]

    report = await worktrees.gc(finished, retention_s=7 * 86400)

    assert report.removed == (old_clean,)
    assert [(k.workspace, k.reason) for k in report.kept] == [
        (recent, KeepReason.RECENT),
        (unmerged, KeepReason.UNMERGED),
    ]
    assert "force" in report.kept[1].detail
    assert task_branches(git, repo) == ["codex-runner/t_recent", "codex-runner/t_unmerged"]

    forced = await worktrees.gc(finished[1:], retention_s=7 * 86400, force=True)

    assert forced.removed == (unmerged,)
    assert task_branches(git, repo) == ["codex-runner/t_recent"]
