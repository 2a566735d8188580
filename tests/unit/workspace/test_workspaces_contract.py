"""The behaviour every Workspaces implementation shares: GitWorktrees and InMemoryWorkspaces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_runner.domain.task import WorkspaceRequest
from codex_runner.workspace.git_worktrees import GitWorktrees
from codex_runner.workspace.memory import InMemoryWorkspaces
from codex_runner.workspace.protocol import (
    DirectoryMissing,
    FinishedWorkspace,
    KeepReason,
    NotAGitRepository,
    UnknownRef,
    UnmergedWork,
    Workspace,
    WorkspaceExists,
    WorkspaceKind,
    Workspaces,
)

from .conftest import GitRepo, run_git

NOW = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=30)
RETENTION_S = 7 * 86400.0


@dataclass
class Harness:
    workspaces: Workspaces
    root: Path
    repo: Path
    head: str
    feature: str  # the commit of ref "feature"
    merge: Callable[[Workspace], None]  # merge the task branch into the repo's HEAD

    def root_is_empty(self) -> bool:
        return not self.root.exists() or not any(self.root.iterdir())


@pytest.fixture(params=["git", "memory"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    root = tmp_path / "worktrees"
    if request.param == "git":
        repo: GitRepo = request.getfixturevalue("repo")

        def git_merge(ws: Workspace) -> None:
            run_git(repo.path, "merge", "--quiet", "--no-edit", str(ws.branch))

        return Harness(
            GitWorktrees(root, clock=lambda: NOW),
            root,
            repo.path,
            repo.head,
            repo.feature,
            git_merge,
        )
    memory = InMemoryWorkspaces(root, clock=lambda: NOW)
    path = tmp_path / "repo"
    memory.add_repository(path, {"HEAD": "c" * 40, "main": "c" * 40, "feature": "f" * 40})
    return Harness(memory, root, path, "c" * 40, "f" * 40, memory.mark_merged)


def bad_specs(h: Harness, tmp_path: Path) -> list[tuple[WorkspaceRequest, type[Exception]]]:
    plain = tmp_path / "plain"
    plain.mkdir(exist_ok=True)
    return [
        (WorkspaceRequest(repo=str(tmp_path / "missing")), NotAGitRepository),
        (WorkspaceRequest(repo=str(plain)), NotAGitRepository),
        (WorkspaceRequest(repo=str(h.repo), base_ref="no-such-ref"), UnknownRef),
        (WorkspaceRequest(cwd=str(tmp_path / "missing")), DirectoryMissing),
    ]


async def test_validate_rejects_each_bad_input_with_its_typed_error_and_creates_nothing(
    harness: Harness, tmp_path: Path
) -> None:
    for spec, error in bad_specs(harness, tmp_path):
        with pytest.raises(error):
            await harness.workspaces.validate(spec)
    assert harness.root_is_empty()


async def test_create_rejects_bad_input_like_validate_and_leaves_nothing(
    harness: Harness, tmp_path: Path
) -> None:
    for spec, error in bad_specs(harness, tmp_path):
        with pytest.raises(error):
            await harness.workspaces.create("t_1", spec)
    assert harness.root_is_empty()
    assert await harness.workspaces.locate("t_1", WorkspaceRequest(repo=str(harness.repo))) is None


async def test_a_repo_workspace_is_a_worktree_on_the_task_branch_from_head(
    harness: Harness,
) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))

    assert ws.kind is WorkspaceKind.WORKTREE
    assert ws.task_id == "t_1"
    assert ws.branch == "codex-runner/t_1"
    assert ws.base_commit == harness.head
    assert ws.repo == harness.repo.resolve()
    assert ws.path.is_dir()
    assert ws.path.is_relative_to(harness.root)


async def test_a_named_base_ref_sets_the_base_commit(harness: Harness) -> None:
    spec = WorkspaceRequest(repo=str(harness.repo), base_ref="feature")

    ws = await harness.workspaces.create("t_1", spec)

    assert ws.base_commit == harness.feature


async def test_creating_twice_returns_the_same_workspace_and_locate_finds_it(
    harness: Harness,
) -> None:
    spec = WorkspaceRequest(repo=str(harness.repo))
    first = await harness.workspaces.create("t_1", spec)
    (first.path / "work.txt").write_text("kept\n")

    assert await harness.workspaces.create("t_1", spec) == first
    assert await harness.workspaces.locate("t_1", spec) == first
    assert (first.path / "work.txt").read_text() == "kept\n"


async def test_create_refuses_a_path_already_taken_by_something_else(harness: Harness) -> None:
    (harness.root / "t_1").mkdir(parents=True)
    (harness.root / "t_1" / "someone.txt").write_text("else\n")

    with pytest.raises(WorkspaceExists, match="move or delete"):
        await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    assert (harness.root / "t_1" / "someone.txt").exists()


async def test_a_cwd_workspace_is_the_directory_itself_and_is_never_committed_or_deleted(
    harness: Harness, tmp_path: Path
) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "file.txt").write_text("mine\n")

    ws = await harness.workspaces.create("t_1", WorkspaceRequest(cwd=str(cwd)))

    assert ws == Workspace("t_1", cwd.resolve(), WorkspaceKind.DIRECTORY)
    assert await harness.workspaces.commit_changes(ws, "turn 1") is None
    assert await harness.workspaces.diff_summary(ws) is None
    assert await harness.workspaces.diff(ws) == ""
    await harness.workspaces.remove(ws, force=True)
    assert (cwd / "file.txt").read_text() == "mine\n"
    assert harness.root_is_empty()


async def test_commit_changes_summarises_the_files_the_task_wrote(harness: Harness) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "one.txt").write_text("a\nb\nc\n")
    (ws.path / "two.txt").write_text("d\n")

    summary = await harness.workspaces.commit_changes(ws, "turn 1")

    assert summary is not None
    assert (summary.files_changed, summary.insertions, summary.deletions) == (2, 4, 0)
    assert [f.path for f in summary.files] == ["one.txt", "two.txt"]
    assert summary.commit != harness.head
    assert await harness.workspaces.diff_summary(ws) == summary


async def test_commit_changes_with_nothing_new_returns_the_same_summary(harness: Harness) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "one.txt").write_text("a\n")
    first = await harness.workspaces.commit_changes(ws, "turn 1")

    assert await harness.workspaces.commit_changes(ws, "turn 2") == first


async def test_diff_includes_work_that_is_not_committed_yet(harness: Harness) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "committed.txt").write_text("first\n")
    await harness.workspaces.commit_changes(ws, "turn 1")
    (ws.path / "pending.txt").write_text("second\n")

    diff = await harness.workspaces.diff(ws)

    assert "+++ b/committed.txt" in diff
    assert "+first" in diff
    assert "+++ b/pending.txt" in diff
    assert "+second" in diff


async def test_remove_refuses_unmerged_commits_unless_forced(harness: Harness) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "work.txt").write_text("work\n")
    await harness.workspaces.commit_changes(ws, "turn 1")

    with pytest.raises(UnmergedWork, match=r"not merged.*force"):
        await harness.workspaces.remove(ws)
    assert ws.path.is_dir()

    await harness.workspaces.remove(ws, force=True)
    assert not ws.path.exists()
    assert await harness.workspaces.locate("t_1", WorkspaceRequest(repo=str(harness.repo))) is None


async def test_remove_refuses_uncommitted_changes_unless_forced(harness: Harness) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "pending.txt").write_text("work\n")

    with pytest.raises(UnmergedWork, match="uncommitted changes"):
        await harness.workspaces.remove(ws)

    await harness.workspaces.remove(ws, force=True)
    assert not ws.path.exists()


async def test_check_remove_says_what_remove_would_refuse_and_removes_nothing(
    harness: Harness,
) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "work.txt").write_text("work\n")
    await harness.workspaces.commit_changes(ws, "turn 1")

    with pytest.raises(UnmergedWork, match="not merged"):
        await harness.workspaces.check_remove(ws)
    harness.merge(ws)
    await harness.workspaces.check_remove(ws)  # merged: remove would go ahead

    assert (ws.path / "work.txt").is_file()
    assert await harness.workspaces.locate("t_1", WorkspaceRequest(repo=str(harness.repo))) == ws


async def test_remove_deletes_merged_work_and_a_second_remove_is_a_no_op(
    harness: Harness,
) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "work.txt").write_text("work\n")
    await harness.workspaces.commit_changes(ws, "turn 1")
    harness.merge(ws)

    await harness.workspaces.remove(ws)
    await harness.workspaces.remove(ws)

    assert not ws.path.exists()
    assert await harness.workspaces.locate("t_1", WorkspaceRequest(repo=str(harness.repo))) is None


async def test_a_removed_task_workspace_can_be_created_afresh(harness: Harness) -> None:
    spec = WorkspaceRequest(repo=str(harness.repo))
    ws = await harness.workspaces.create("t_1", spec)
    await harness.workspaces.remove(ws)

    again = await harness.workspaces.create("t_1", spec)

    assert again == ws
    assert again.path.is_dir()


async def test_gc_removes_old_clean_workspaces_and_says_why_it_kept_the_others(
    harness: Harness, tmp_path: Path
) -> None:
    spec = WorkspaceRequest(repo=str(harness.repo))
    old = await harness.workspaces.create("t_old", spec)
    recent = await harness.workspaces.create("t_recent", spec)
    unmerged = await harness.workspaces.create("t_unmerged", spec)
    (unmerged.path / "work.txt").write_text("work\n")
    await harness.workspaces.commit_changes(unmerged, "turn 1")
    directory = await harness.workspaces.create("t_dir", WorkspaceRequest(cwd=str(tmp_path)))
    finished = [
        FinishedWorkspace(old, OLD),
        FinishedWorkspace(recent, NOW - timedelta(minutes=5)),
        FinishedWorkspace(unmerged, OLD),
        FinishedWorkspace(directory, OLD),
    ]

    report = await harness.workspaces.gc(finished, RETENTION_S)

    assert report.removed == (old,)
    assert [(k.workspace.task_id, k.reason) for k in report.kept] == [
        ("t_recent", KeepReason.RECENT),
        ("t_unmerged", KeepReason.UNMERGED),
        ("t_dir", KeepReason.DIRECTORY),
    ]
    assert not old.path.exists()
    assert recent.path.is_dir() and unmerged.path.is_dir() and directory.path.is_dir()


async def test_gc_with_force_removes_unmerged_work_too(harness: Harness) -> None:
    ws = await harness.workspaces.create("t_1", WorkspaceRequest(repo=str(harness.repo)))
    (ws.path / "work.txt").write_text("work\n")
    await harness.workspaces.commit_changes(ws, "turn 1")

    report = await harness.workspaces.gc([FinishedWorkspace(ws, OLD)], RETENTION_S, force=True)

    assert report.removed == (ws,)
    assert report.kept == ()
    assert not ws.path.exists()
