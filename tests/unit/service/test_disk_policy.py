"""The disk policy: below the minimum it reclaims old logs, then finished worktrees and
inactive sessions' workspaces oldest first, until the target; dry-run only reports; a
running task, one awaiting approval, queued input and unmerged work are never touched."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from codex_runner.config.disk import DiskSettings
from codex_runner.domain.durable_event import NewEvent
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.service.disk_policy import (
    FINISHED_WORKTREE,
    INACTIVE_SESSION,
    KEPT,
    OLD_LOG,
    REMOVED,
    WOULD_REMOVE,
    DiskLow,
    DiskPolicy,
)
from codex_runner.service.disk_policy_metrics import DiskPolicyCollector
from codex_runner.service.disk_space import DiskOfSize, FileSystemSpace, FreeSpace
from codex_runner.service.worktree_gc import WorktreeCollector
from codex_runner.store.sql import SqlStore
from codex_runner.workspace.memory import InMemoryWorkspaces

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OLD_LOG_FILE = "2020-01-01-00.jsonl"


@dataclass
class Home:
    root: Path
    store: SqlStore
    workspaces: InMemoryWorkspaces
    repo: Path

    def collector(self) -> WorktreeCollector:
        async def record(task_id: str, events: Sequence[NewEvent]) -> None:
            await self.store.append_events(task_id, list(events))

        return WorktreeCollector(self.store, self.workspaces, clock=lambda: NOW, record=record)

    def policy(self, free_space: FreeSpace, **settings: object) -> DiskPolicy:
        return DiskPolicy(
            DiskSettings.model_validate(settings),
            home=self.root,
            store=self.store,
            worktrees=self.collector(),
            free_space=free_space,
            clock=lambda: NOW,
        )

    async def task(
        self,
        task_id: str,
        state: TaskState,
        *,
        ago: timedelta,
        size: int = 0,
        merged: bool = True,
        cwd: Path | None = None,
        pending: str | None = None,
    ) -> Task:
        """A task last changed ``ago``, with a worktree holding ``size`` bytes (committed,
        merged unless told), or running in ``cwd``."""
        request = (
            WorkspaceRequest.directory(str(cwd)) if cwd else WorkspaceRequest.git(str(self.repo))
        )
        at = NOW - ago
        task = Task(
            task_id,
            "p",
            request,
            created_at=at - timedelta(minutes=5),
            updated_at=at,
            state=state,
            finished_at=at if state.is_terminal else None,
            pending_message=pending,
        )
        await self.store.create_task(task)
        if cwd is None:
            ws = await self.workspaces.create(task_id, request)
            (ws.path / "work.bin").write_bytes(b"w" * size)
            await self.workspaces.commit_changes(ws, "work")
            if merged:
                self.workspaces.mark_merged(ws)
        return task

    def session(self, key: str, size: int) -> Path:
        workspace = self.root / "sessions" / key / "workspace"
        workspace.mkdir(parents=True)
        (workspace / "notes.bin").write_bytes(b"s" * size)
        (self.root / "sessions" / key / "session.json").write_text("{}")
        return workspace

    def old_log(self, task_id: str, size: int) -> Path:
        path = self.root / "logs" / "tasks" / task_id / OLD_LOG_FILE
        path.parent.mkdir(parents=True)
        path.write_bytes(b"l" * size)
        return path


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[Home]:
    # The store lives beside the home, so the pretend disk holds only what the policy weighs.
    store = await SqlStore.open(tmp_path / "runner.sqlite")
    workspaces = InMemoryWorkspaces(tmp_path / "home" / "worktrees", clock=lambda: NOW)
    repo = tmp_path / "repo"
    workspaces.add_repository(repo, {"HEAD": "c" * 40})
    try:
        yield Home(tmp_path / "home", store, workspaces, repo)
    finally:
        await store.close()


async def _everything(home: Home) -> None:
    """Files of every kind, protected and not (sizes in bytes, ages from NOW)."""
    home.old_log("old_done", 1000)
    await home.task("old_done", TaskState.COMPLETED, ago=10 * DAY, size=4000)
    await home.task("new_done", TaskState.COMPLETED, ago=1 * DAY, size=3000)
    await home.task("unmerged", TaskState.COMPLETED, ago=20 * DAY, size=5000, merged=False)
    await home.task("running", TaskState.RUNNING, ago=40 * DAY, size=6000)
    await home.task("approval", TaskState.AWAITING_APPROVAL, ago=40 * DAY, size=6000)
    idle = home.session("s_idle", 2000)
    await home.task("chat_idle", TaskState.COMPLETED, ago=30 * DAY, cwd=idle)
    waiting = home.session("s_waiting", 2000)
    await home.task(
        "chat_waiting", TaskState.AWAITING_APPROVAL, ago=timedelta(hours=2), cwd=waiting
    )
    queued = home.session("s_queued", 2000)
    await home.task(
        "chat_queued", TaskState.COMPLETED, ago=timedelta(hours=2), cwd=queued, pending="next"
    )


# A session idle a minute is inactive; protection lasts a day.
POLICY = {"inactive_session_s": 60, "protection_s": DAY.total_seconds(), "old_log_s": 3600}


async def test_dry_run_reports_each_candidate_with_its_bytes_and_rule_and_removes_nothing(
    home: Home,
) -> None:
    await _everything(home)
    disk = DiskOfSize(home.root, size_bytes=40_000)
    used = 40_000 - disk.free_bytes(home.root)
    policy = home.policy(disk, min_free_bytes=20_000, target_free_bytes=39_000, **POLICY)
    lows: list[DiskLow] = []
    policy.on_low = lows.append

    check = await policy.check()

    assert check.low and check.dry_run
    assert [low.free_bytes for low in lows] == [40_000 - used]
    seen = [(c.rule, c.path.name, c.bytes, c.outcome, c.task_id) for c in check.candidates]
    assert seen == [
        (OLD_LOG, "old_done", 1000, WOULD_REMOVE, None),
        # Then workspaces, oldest first: protected ones kept, saying why.
        (INACTIVE_SESSION, "s_idle", 2000, WOULD_REMOVE, "chat_idle"),
        (FINISHED_WORKTREE, "unmerged", 5000, KEPT, "unmerged"),
        (FINISHED_WORKTREE, "old_done", 4000, WOULD_REMOVE, "old_done"),
        (FINISHED_WORKTREE, "new_done", 3000, WOULD_REMOVE, "new_done"),
        (INACTIVE_SESSION, "s_queued", 2000, KEPT, "chat_queued"),
        (INACTIVE_SESSION, "s_waiting", 2000, KEPT, "chat_waiting"),
    ]
    kept = {c.task_id: c.detail for c in check.candidates if c.outcome == KEPT}
    assert "unmerged" in kept["unmerged"]
    assert "queued input" in kept["chat_queued"]
    assert "awaiting_approval" in kept["chat_waiting"]
    assert check.free_after == check.free_bytes + 10_000  # as it would be
    assert 40_000 - disk.free_bytes(home.root) == used  # nothing removed
    assert await home.store.last_seq("old_done") == 1  # no removal event


async def test_for_real_it_stops_at_the_target_and_records_each_removal_on_its_task(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    await _everything(home)
    disk = DiskOfSize(home.root, size_bytes=40_000)
    free = disk.free_bytes(home.root)
    # The old log, the idle session and the oldest finished worktree reach the target.
    policy = home.policy(
        disk, min_free_bytes=free + 1, target_free_bytes=free + 6500, dry_run=False, **POLICY
    )

    check = await policy.check()

    outcomes = [(c.path.name, c.outcome) for c in check.candidates]
    assert outcomes == [
        ("old_done", REMOVED),  # the log folder
        ("s_idle", REMOVED),
        ("unmerged", KEPT),
        ("old_done", REMOVED),  # the worktree
    ]
    assert check.free_after == free + 7000 == disk.free_bytes(home.root)
    assert not (home.root / "logs" / "tasks" / "old_done" / OLD_LOG_FILE).exists()
    assert list((home.root / "sessions" / "s_idle" / "workspace").iterdir()) == []
    assert (home.root / "sessions" / "s_idle" / "session.json").exists()  # the session works on
    for kept in ("new_done", "unmerged", "running", "approval"):
        assert (home.root / "worktrees" / kept / "work.bin").exists()
    for key in ("s_waiting", "s_queued"):
        assert (home.root / "sessions" / key / "workspace" / "notes.bin").exists()
    assert not (home.root / "worktrees" / "old_done").exists()
    (event,) = (await home.store.read_events("old_done"))[1:]
    assert event.type == "workspace.removed"
    assert (event.data["bytes"], event.data["rule"]) == (4000, FINISHED_WORKTREE)
    done = await home.store.get_task("old_done")
    assert done is not None and done.workspace_collected_at == NOW
    (event,) = (await home.store.read_events("chat_idle"))[1:]
    assert (event.data["bytes"], event.data["rule"]) == (2000, INACTIVE_SESSION)
    assert policy.removed_bytes == 7000
    logged = [r for r in caplog.records if getattr(r, "task_id", None) == "old_done"]
    assert "removed" in logged[0].getMessage() and "4000 bytes" in logged[0].getMessage()


async def test_protection_lapses_after_protection_s_but_unmerged_work_never_does(
    home: Home,
) -> None:
    waiting = home.session("s_waiting", 2000)
    await home.task("chat_waiting", TaskState.AWAITING_APPROVAL, ago=3 * DAY, cwd=waiting)
    await home.task("unmerged", TaskState.COMPLETED, ago=90 * DAY, size=5000, merged=False)
    disk = DiskOfSize(home.root, size_bytes=10_000)
    policy = home.policy(
        disk, min_free_bytes=9_000, target_free_bytes=10_000, dry_run=False, **POLICY
    )

    check = await policy.check()

    assert [(c.task_id, c.outcome) for c in check.candidates] == [
        ("unmerged", KEPT),
        ("chat_waiting", REMOVED),  # awaiting approval for three days: no longer protected
    ]
    assert (home.root / "worktrees" / "unmerged" / "work.bin").exists()


async def test_enough_free_space_is_no_disk_low_and_touches_nothing(home: Home) -> None:
    await _everything(home)
    disk = DiskOfSize(home.root, size_bytes=1_000_000)
    policy = home.policy(disk, min_free_bytes=1000, target_free_bytes=2000, dry_run=False)
    policy.on_low = lambda low: pytest.fail(f"not low: {low}")

    check = await policy.check()

    assert not check.low and check.candidates == ()
    assert policy.low_checks == 0
    assert (home.root / "logs" / "tasks" / "old_done" / OLD_LOG_FILE).exists()


async def test_gc_dry_run_lists_worktrees_with_bytes_and_removes_nothing(home: Home) -> None:
    await home.task("old_done", TaskState.COMPLETED, ago=10 * DAY, size=4000)
    await home.task("unmerged", TaskState.COMPLETED, ago=10 * DAY, size=5000, merged=False)
    collector = home.collector()

    dry = await collector.collect(DAY.total_seconds(), force=False, dry_run=True)

    assert dry.dry_run and [w.task_id for w in dry.removed] == ["old_done"]
    assert dry.bytes == {"old_done": 4000}
    assert [k.workspace.task_id for k in dry.kept] == ["unmerged"]
    assert (home.root / "worktrees" / "old_done" / "work.bin").exists()

    real = await collector.collect(DAY.total_seconds(), force=False)

    assert [w.task_id for w in real.removed] == ["old_done"]
    assert not (home.root / "worktrees" / "old_done").exists()
    (event,) = (await home.store.read_events("old_done"))[1:]
    assert event.data["rule"] == "retention" and event.data["bytes"] == 4000


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
async def test_on_a_small_real_file_system_old_logs_go_until_the_target_is_free(
    home: Home,
) -> None:
    mib = 1024 * 1024
    with _tmpfs(home.root, "4m"):
        home.old_log("a", 2 * mib)
        home.session("s_busy", mib)  # no task: inactive since the folder changed (now)
        space = FileSystemSpace()
        free = space.free_bytes(home.root)
        policy = home.policy(
            space,
            min_free_bytes=free + mib,
            target_free_bytes=free + mib,
            dry_run=False,
            inactive_session_s=DAY.total_seconds(),
        )

        check = await policy.check()

        assert check.low
        assert [(c.rule, c.outcome) for c in check.candidates] == [(OLD_LOG, REMOVED)]
        assert space.free_bytes(home.root) >= free + 2 * mib
        assert (home.root / "sessions" / "s_busy" / "workspace" / "notes.bin").exists()


async def test_disk_low_is_counted_in_the_metrics_and_a_failing_subscriber_is_survived(
    home: Home,
) -> None:
    home.old_log("t", 100)
    disk = DiskOfSize(home.root, size_bytes=1000)
    policy = home.policy(disk, min_free_bytes=950, target_free_bytes=960, dry_run=False)
    registry = CollectorRegistry()
    registry.register(DiskPolicyCollector(policy))
    assert registry.get_sample_value("codex_runner_disk_low") is None  # no check yet

    def broken(low: DiskLow) -> None:
        raise RuntimeError("subscriber down")

    policy.on_low = broken
    await policy.check()  # 900 free: low; the old log goes

    assert registry.get_sample_value("codex_runner_disk_low") == 1
    assert registry.get_sample_value("codex_runner_disk_low_checks_total") == 1
    assert registry.get_sample_value("codex_runner_disk_policy_removed_bytes_total") == 100
    await policy.check()  # 1000 free now

    assert registry.get_sample_value("codex_runner_disk_low") == 0
    assert registry.get_sample_value("codex_runner_disk_free_bytes") == 1000
    assert registry.get_sample_value("codex_runner_disk_low_checks_total") == 1
