"""The daemon's parts wired together: store, workspaces, Codex runtime, task service.

Start order: store (migrations run), workspaces, runtime (Codex initialized), service
(reconciliation, then scheduling). Stop order is the reverse, each step bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import codex_runner
from codex_runner.auth.profile_store import ProfileStore
from codex_runner.auth.start_import import import_at_start
from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.binary import find_codex_binary
from codex_runner.codex.endpoint import shared_remote
from codex_runner.codex.factory import create_runtime
from codex_runner.codex.home import child_environment
from codex_runner.codex.rpc_log import RpcLog
from codex_runner.codex.runtime import CodexRuntime
from codex_runner.codex.task_runtimes import TaskRuntimes
from codex_runner.config import RunnerConfig
from codex_runner.daemon.logs import DaemonLogs, remove_old_logs_now_and_then
from codex_runner.daemon.startup import StartupTimes, timed
from codex_runner.runner_home.host_id import host_id
from codex_runner.service.coauthors import Coauthors
from codex_runner.service.codex_releases import Release
from codex_runner.service.codex_releases_service import (
    CodexReleases,
    daemon_releases,
    with_current_release,
    with_release,
)
from codex_runner.service.disk_kinds import runner_disk_kinds
from codex_runner.service.disk_policy import DiskPolicy
from codex_runner.service.disk_policy_metrics import DiskPolicyCollector
from codex_runner.service.disk_space import FileSystemSpace
from codex_runner.service.event_archive import archive_now_and_then
from codex_runner.service.event_bus import EventBus
from codex_runner.service.home_watch import HomeBaseline, HomeWatch
from codex_runner.service.hosts import HostSettings
from codex_runner.service.jobs import JobService
from codex_runner.service.live_sessions import SharedAppServer
from codex_runner.service.metrics import RunnerMetrics
from codex_runner.service.metrics_disk import DiskUsage
from codex_runner.service.notify_service import Notifier
from codex_runner.service.notify_targets import NotifyTargets
from codex_runner.service.option_checks import OptionRules
from codex_runner.service.profile_failover import ProfileFailover
from codex_runner.service.profile_switch import ProfileSwitcher
from codex_runner.service.readiness import NotReady, readiness_problems
from codex_runner.service.task_log import TaskLogFiles
from codex_runner.service.tasks import TaskService
from codex_runner.service.thread_carry import ThreadCarrier
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper
from codex_runner.store.sql import SqlStore
from codex_runner.workspace.git_worktrees import GitWorktrees

log = logging.getLogger(__name__)

DATABASE_FILE = "runner.sqlite"
GC_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def database(self) -> Path:
        return self.home / DATABASE_FILE

    @property
    def worktrees(self) -> Path:
        return self.home / "worktrees"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def task_logs(self) -> Path:
        return self.logs / "tasks"


class Daemon:
    """Owns the long-lived parts; ``service`` is what adapters (API, Slack) talk to."""

    def __init__(self, config: RunnerConfig, *, logs: DaemonLogs | None = None) -> None:
        self.config = config
        self.logs = logs  # the layered logs' handler: its raw layers are for the parts
        self._log_retention: asyncio.Task[None] | None = None
        self._event_archive: asyncio.Task[None] | None = None  # [store] event_retention_s
        self.paths = Paths(config.home)
        self._store: SqlStore | None = None
        self._runtime: CodexRuntime | None = None
        self._runtimes: TaskRuntimes | None = None
        self._service: TaskService | None = None
        self._task_logs: TaskLogFiles | None = None
        self.bus = EventBus()
        self._gc: asyncio.Task[None] | None = None
        # Switches auth profiles on the app-server runtime (None with exec or codex.home).
        self.switcher: ProfileSwitcher | None = None
        self.startup = StartupTimes()
        self.home_watch: HomeWatch | None = None
        self.metrics: RunnerMetrics | None = None  # GET /metrics (service/metrics.py)
        self.notifier: Notifier | None = None  # [notify]: webhooks (docs/notifications.md)
        self.disk_policy: DiskPolicy | None = None  # [disk]: free space checks (docs/disk.md)
        self.jobs: JobService | None = None  # [jobs]: background jobs (docs/jobs.md)
        self.releases: CodexReleases | None = None  # Codex releases (docs/releases.md)

    @property
    def service(self) -> TaskService:
        if self._service is None:
            raise RuntimeError("the daemon is not started")
        return self._service

    @property
    def runtime(self) -> CodexRuntime:
        if self._runtime is None:
            raise RuntimeError("the daemon is not started")
        return self._runtime

    def ready(self) -> bool:
        """The store is open, the Codex runtime answered ``initialize``, the home is sound."""
        return (
            self._store is not None
            and self._runtime is not None
            and self._runtime.status().state == "ready"
            and self.home_problem() is None
        )

    def readiness(self) -> list[NotReady]:
        """What keeps the daemon from being ready, one entry per failing check."""
        return readiness_problems(
            store_open=self._store is not None,
            runtime=self._runtime.status() if self._runtime is not None else None,
            home_problem=self.home_problem(),
        )

    def _shared_app_server(self) -> SharedAppServer | None:
        remote = shared_remote(self.config)
        if remote is None:
            return None
        config = self.config

        def codex_home() -> str | None:
            return None if config.codex.url else str(self.config.codex_home)

        binary = str(find_codex_binary(config.codex.bin))
        return SharedAppServer(remote=remote, codex_bin=binary, codex_home=codex_home)

    def home_problem(self) -> str | None:
        """What is wrong with the home (deleted, replaced, read-only), None when sound."""
        return self.home_watch.problem if self.home_watch is not None else None

    async def start(self) -> None:
        settings = self.config.service
        self.paths.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        import_at_start(self.config)  # before Codex starts on the profile it may fill
        store = SqlStore.open(
            self.config.store_target, busy_timeout_s=settings.store_busy_timeout_s
        )
        self._store = await timed(store, self.startup, "store_s")
        rpc_layer = self.logs.raw_layer("codex-rpc") if self.logs is not None else None
        rpc_log = RpcLog(rpc_layer) if rpc_layer is not None else None

        # The current Codex release runs unless codex.bin names one (docs/releases.md).
        as_read, self.config = self.config, with_current_release(self.config)
        # No runtime-wide approval handler: the runner hands each turn its task's own.
        self._runtime = create_runtime(self.config, rpc_log=rpc_log)
        # A task may ask for the other runtime kind; it is made when the first one does.
        self._runtimes = TaskRuntimes(
            self._runtime, lambda kind: create_runtime(self.config, rpc_log=rpc_log, kind=kind)
        )
        warm_threads = WarmThreadKeeper(
            self._runtimes, limit=settings.warm_threads, idle_s=settings.warm_thread_idle_s
        )
        failover = None
        profiles: ProfileStore | None = None
        # Exec starts a process per turn; a pinned codex.home has no profiles to switch to.
        if isinstance(self._runtime, AppServerRuntime) and self.config.uses_profiles:
            profiles = ProfileStore(self.config.home)
            self.switcher = ProfileSwitcher(profiles, self._runtime, warm_threads=warm_threads)
            failover = ProfileFailover(self.config.auth, profiles, self.switcher)
        self.releases = daemon_releases(
            as_read, self._runtime, warm_threads=warm_threads, on_switched=self._release_switched
        )
        self._task_logs = TaskLogFiles(self.paths.task_logs)
        self.home_watch = HomeWatch(
            HomeBaseline.take(
                self.paths.home,
                store_file=None if self.config.store.url else self.paths.database,
                config_files=(
                    self.config.home / "config.toml",
                    self.config.codex_home / "config.toml",
                ),
            ),
            interval_s=settings.home_check_interval_s,
            on_change=self._home_changed,
        )
        worktrees = GitWorktrees(
            self.paths.worktrees, push_branches=self.config.cluster.push_branches
        )
        self._service = TaskService(
            self._store,
            self._runtimes,
            worktrees,
            self.bus,
            max_concurrent=settings.max_concurrent_tasks,
            approval_timeout_s=settings.approval_timeout_s,
            approval_timeout_decision=settings.approval_timeout_decision,
            commit_on_complete=settings.commit_on_complete,
            auto_resume=settings.auto_resume,
            task_log=self._task_logs,
            failover=failover,
            auth_profile=profiles.active if profiles is not None else (lambda: None),
            coauthors=Coauthors(self._store).trailers,  # docs/coauthors.md
            admission=self.home_watch.check_admission,
            warm_threads=warm_threads,
            shared=self._shared_app_server(),
            option_rules=OptionRules(
                aliases=self.config.codex.models,
                config_keys=frozenset(self.config.codex.task_config_keys),
                default_runtime=self.config.codex.runtime,
                notify=NotifyTargets(self.config.notify),
            ),
            uploads=self.paths.home / "uploads",
            host=HostSettings(
                id=host_id(self.paths.home),
                version=codex_runner.__version__,
                capacity=settings.max_concurrent_tasks,
                heartbeat_s=self.config.cluster.heartbeat_s,
                lease_s=self.config.cluster.lease_s,
            ),
            # Hosts sharing a PostgreSQL store carry each thread to the next host.
            carrier=ThreadCarrier(
                self._store, lambda: self.config.codex_home, clock=lambda: datetime.now(UTC)
            )
            if self.config.store.url
            else None,
        )
        # Before recovery: what it reconciles is counted too.
        self.metrics = RunnerMetrics(
            self._service, self.bus, disk=DiskUsage(runner_disk_kinds(self.config))
        )
        self.metrics.start()
        self.disk_policy = DiskPolicy(
            self.config.disk,
            home=self.paths.home,
            store=self._store,
            worktrees=self._service.worktree_gc,
            free_space=FileSystemSpace(),
            clock=lambda: datetime.now(UTC),
        )
        self.metrics.registry.register(DiskPolicyCollector(self.disk_policy))
        try:
            # Codex starts (a process of its own) while the store reconciles what a crash
            # left behind; tasks are scheduled once both are done.
            try:
                async with asyncio.TaskGroup() as starting:
                    starting.create_task(
                        timed(self._runtime.start(), self.startup, "codex_s"), name="codex-start"
                    )
                    starting.create_task(
                        timed(self._service.recover(), self.startup, "reconcile_s"),
                        name="recover-tasks",
                    )
            except BaseExceptionGroup as failed:  # callers handle CodexError, not groups
                raise failed.exceptions[0] from None
            await self._service.start(recover=False)
        except BaseException:
            await self.stop()
            raise
        self.notifier = Notifier(
            self._store,
            self.bus,
            self.config.notify,
            host_id=host_id(self.paths.home),
            clock=lambda: datetime.now(UTC),
        )
        await self.notifier.start()  # after recovery: its catch-up sees what it reconciled
        self.disk_policy.on_low = self.notifier.on_disk_low  # disk.low webhooks
        self.jobs = JobService(
            self._store,
            self._service,
            worktrees,
            self.config.jobs,
            jobs_dir=self.paths.logs / "jobs",
            host_id=host_id(self.paths.home),
            environment=lambda: child_environment(self.config),  # what Codex gets
            clock=lambda: datetime.now(UTC),
        )
        await self.jobs.start()  # takes back the jobs a restart left running
        self._gc = asyncio.create_task(self._collect_garbage(), name="worktree-gc")
        self._log_retention = asyncio.create_task(
            remove_old_logs_now_and_then(self.paths.logs, self.config.logs.retention_s),
            name="log-retention",
        )
        self._event_archive = asyncio.create_task(
            archive_now_and_then(self._store, self.config.store.event_retention_s),
            name="event-archive",
        )
        self.home_watch.start()
        self.disk_policy.start()  # docs/disk.md: dry-run unless [disk] dry_run = false

    def _release_switched(self, release: Release) -> None:
        """Runtimes made later (a task's other runtime kind) run the switched-to Codex."""
        self.config = with_release(self.config, release.binary)

    async def _home_changed(self, problem: str | None) -> None:
        """A home gone wrong stops running turns (their events would be lost); once it is
        sound again, queued tasks start."""
        if problem is not None:
            await self.service.halt_running(problem)
        else:
            self.service.admission_reopened()

    async def _collect_garbage(self) -> None:
        """The retention policy: remove finished tasks' worktrees now and then."""
        retention = self.config.service.worktree_retention_s
        while True:
            await asyncio.sleep(GC_INTERVAL_S)
            try:
                report = await self.service.gc(retention)
                if report.removed:
                    log.info("gc removed %d finished worktrees", len(report.removed))
            except Exception:
                log.exception("worktree gc failed")

    async def stop(self, reason: str | None = None) -> None:
        """Stop every part, bounded; running tasks are interrupted saying ``reason``."""
        if self.home_watch is not None:
            await self.home_watch.stop()
        if self.disk_policy is not None:
            await self.disk_policy.stop()
        if self._gc is not None:
            self._gc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc
            self._gc = None
        if self._log_retention is not None:
            self._log_retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._log_retention
            self._log_retention = None
        if self._event_archive is not None:
            self._event_archive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._event_archive
            self._event_archive = None
        if self.switcher is not None:
            with contextlib.suppress(Exception):
                await self.switcher.close()  # drop a pending when-idle switch
        if self.releases is not None:
            with contextlib.suppress(Exception):
                await self.releases.close()  # a pending switch, running installs
        if self.jobs is not None:  # supervision stops; the jobs keep running
            await self.jobs.stop()
            self.jobs = None
        if self._service is not None:
            with contextlib.suppress(Exception):
                await self._service.stop(reason)
        if self.metrics is not None:
            await self.metrics.stop()
        if self._task_logs is not None:
            self._task_logs.close()
            self._task_logs = None
        if self._runtimes is not None:
            with contextlib.suppress(Exception):
                await self._runtimes.close()  # the runtime made for a task, if any
        if self._runtime is not None:
            with contextlib.suppress(Exception):
                await self._runtime.close()
        if self.notifier is not None:
            await self.notifier.stop()
            self.notifier = None
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.close()
        self._service = None
        self._runtimes = None
        self._runtime = None
        self._store = None
