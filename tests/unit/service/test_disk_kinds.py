"""Disk accounting per kind on a made-up runner home: every kind the runner writes, each
Codex home it uses, and a report that waits for a fresh measure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from codex_runner.config import DiskSettings, RunnerConfig
from codex_runner.service.disk_account import DiskAccount
from codex_runner.service.disk_kinds import codex_homes, runner_disk_kinds
from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.service.disk_space import DiskOfSize
from codex_runner.service.metrics_disk import DiskUsage, KindUsage
from codex_runner.service.worktree_gc import WorktreeCollector
from codex_runner.store.memory import InMemoryStore
from codex_runner.workspace.memory import InMemoryWorkspaces

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def _made_up_home(home: Path) -> None:
    _file(home / "worktrees" / "t1" / "a.py", 100)
    _file(home / "worktrees" / "t2" / "b.py", 50)
    _file(home / "logs" / "runner" / "2026-01-01-00.jsonl", 10)
    _file(home / "logs" / "tasks" / "t1" / "2026-01-01-00.jsonl", 20)
    _file(home / "logs" / "raw" / "codex-rpc" / "2026-01-01-00.jsonl", 30)
    _file(home / "sessions" / "C1-1.2" / "workspace" / "notes.md", 7)
    _file(home / "repos" / "project" / "README", 9)
    _file(home / "uploads" / "img.png", 11)
    _file(home / "releases" / "codex-0.162.1" / "bin" / "codex", 500)
    _file(home / "runner.sqlite", 4096)
    _file(home / "runner.sqlite-wal", 1000)
    # The default profile's Codex home and another profile's.
    for codex_home in (home / "codex-home", home / "profiles" / "work" / "codex-home"):
        _file(codex_home / "sessions" / "2026" / "01" / "01" / "rollout-1.jsonl", 300)
        _file(codex_home / "log" / "codex-tui.log", 40)
        _file(codex_home / "config.toml", 5)  # settings: in no kind
    _file(home / "codex-home" / "archived_sessions" / "rollout-0.jsonl", 3)


async def test_each_kind_is_counted_with_its_bytes_and_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _made_up_home(home)
    config = RunnerConfig(home=home)
    assert set(codex_homes(config)) == {
        home / "codex-home",
        home / "profiles" / "work" / "codex-home",
    }
    usage = DiskUsage(runner_disk_kinds(config))

    measured = await usage.fresh(60)

    assert measured == {
        "worktrees": KindUsage(150, 2),
        "logs": KindUsage(60, 3),
        "sessions": KindUsage(7, 1),
        "repos": KindUsage(9, 1),
        "codex_sessions": KindUsage(603, 3),
        "codex_logs": KindUsage(80, 2),
        "uploads": KindUsage(11, 1),
        "releases": KindUsage(500, 1),
        "store": KindUsage(5096, 2),
    }
    await usage.close()


async def test_a_postgres_store_has_no_store_kind_and_a_pinned_codex_home_is_the_only_one(
    tmp_path: Path,
) -> None:
    pinned = tmp_path / "mine"
    _file(pinned / "sessions" / "r.jsonl", 12)
    config = RunnerConfig.model_validate(
        {
            "home": tmp_path / "home",
            "store": {"url": "postgresql://u@h/db"},
            "codex": {"home": str(pinned)},
        }
    )
    kinds = runner_disk_kinds(config)
    assert "store" not in kinds
    assert kinds["codex_sessions"] == (pinned / "sessions", pinned / "archived_sessions")


async def test_the_report_waits_for_a_fresh_measure_and_gives_free_space(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _made_up_home(home)
    usage = DiskUsage(runner_disk_kinds(RunnerConfig(home=home)), clock=lambda: 0.0)
    store = InMemoryStore()
    workspaces = InMemoryWorkspaces(home / "worktrees")
    policy = DiskPolicy(
        DiskSettings(),
        home=home,
        store=store,
        worktrees=WorktreeCollector(store, workspaces, clock=lambda: NOW),
        free_space=DiskOfSize(home, size_bytes=100_000),
        clock=lambda: NOW,
    )

    report = await DiskAccount(usage, policy).report()

    assert list(report.kinds)[:2] == ["worktrees", "logs"]  # in the order shown
    assert report.total_bytes == sum(u.bytes for u in report.kinds.values()) > 0
    assert report.free_bytes == 100_000 - report.total_bytes - 2 * 5  # config.toml files
    assert report.last_check is None
    await usage.close()
