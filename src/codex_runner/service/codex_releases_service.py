"""Codex releases as the daemon offers them: the listing, install jobs, switches and
roll-backs in one place for the API and the admin page (docs/releases.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.config import RunnerConfig
from codex_runner.service.codex_releases import (
    Pointers,
    Release,
    ReleaseError,
    ReleasesHome,
    SwitchRecord,
)
from codex_runner.service.codex_releases_check import CheckReport, check_release
from codex_runner.service.codex_releases_install import (
    InstallJob,
    InstallJobs,
    remove_stale_partials,
)
from codex_runner.service.codex_releases_switch import (
    ReleaseSwitcher,
    SwitchAsk,
    SwitchOutcome,
)
from codex_runner.service.warm_thread_keeper import WarmThreadKeeper


@dataclass(frozen=True)
class ReleaseListing:
    """Everything the releases list shows."""

    releases: list[Release]
    current: str
    pointers: Pointers
    pending: str | None
    switchable: str | None  # why this daemon cannot switch, None when it can
    records: list[SwitchRecord]
    jobs: list[InstallJob]


class CodexReleases:
    """The daemon's releases: installs run as background jobs, switches on its runtime."""

    def __init__(
        self,
        releases: ReleasesHome,
        jobs: InstallJobs,
        switcher: ReleaseSwitcher | None,
        *,
        not_switchable: str | None = None,
    ) -> None:
        self.home = releases
        self.jobs = jobs
        self.switcher = switcher
        self._not_switchable = not_switchable

    def listing(self, records: int = 20) -> ReleaseListing:
        return ReleaseListing(
            releases=self.home.releases(),
            current=self.home.current().name,
            pointers=self.home.pointers(),
            pending=self.switcher.pending if self.switcher is not None else None,
            switchable=self._not_switchable,
            records=self.home.records(records),
            jobs=self.jobs.jobs(),
        )

    def install(self, version: str) -> InstallJob:
        return self.jobs.start(version)

    async def use(self, ask: SwitchAsk) -> SwitchOutcome:
        return await self._switcher().use(ask)

    async def rollback(self, ask: SwitchAsk) -> SwitchOutcome:
        return await self._switcher().rollback(ask)

    async def close(self) -> None:
        if self.switcher is not None:
            await self.switcher.close()
        await self.jobs.close()

    def _switcher(self) -> ReleaseSwitcher:
        if self.switcher is None:
            raise ReleaseError(self._not_switchable or "this daemon cannot switch Codex")
        return self.switcher


def with_current_release(config: RunnerConfig) -> RunnerConfig:
    """``config`` running the ``current`` release (the pinned wheel needs no change; a
    configured ``codex.bin`` or ``[codex] url`` wins over any release)."""
    if config.codex.bin or config.codex.url:
        return config
    release = ReleasesHome(config.home).current()
    if release.pinned:
        return config
    return with_release(config, release.binary)


def with_release(config: RunnerConfig, binary: Path) -> RunnerConfig:
    codex = config.codex.model_copy(update={"bin": str(binary)})
    return config.model_copy(update={"codex": codex})


def daemon_releases(
    config: RunnerConfig,
    runtime: object,
    *,
    warm_threads: WarmThreadKeeper | None,
    on_switched: Callable[[Release], None],
) -> CodexReleases:
    """The releases of the daemon run with ``config`` (as read, before
    :func:`with_current_release`) on ``runtime``."""
    settings = config.releases
    home = ReleasesHome(config.home)
    jobs = InstallJobs(home, pip_args=settings.pip_args, timeout_s=settings.install_timeout_s)
    # A pip a crash stopped left its folder; none younger than an install's bound is touched.
    remove_stale_partials(home, older_than_s=settings.install_timeout_s * 2)
    why = not_switchable(config, runtime)
    if why is not None or not isinstance(runtime, AppServerRuntime):
        return CodexReleases(home, jobs, None, not_switchable=why)

    async def check(release: Release) -> CheckReport:
        return await check_release(release, timeout_s=settings.check_timeout_s)

    switcher = ReleaseSwitcher(
        home,
        runtime,
        check=check,
        idle_timeout_s=settings.idle_timeout_s,
        warm_threads=warm_threads,
        on_switched=on_switched,
    )
    return CodexReleases(home, jobs, switcher)


def not_switchable(config: RunnerConfig, runtime: object) -> str | None:
    """Why a daemon with ``config`` cannot switch releases (None: it can)."""
    if config.codex.url:
        return "the app-server at [codex] url is not the runner's to restart on another Codex"
    if config.codex.bin:
        return (
            "codex.bin (or CODEX_RUNNER_CODEX_BIN) names the Codex to run; unset it to switch "
            "between releases"
        )
    if not isinstance(runtime, AppServerRuntime):
        return "switching releases needs the app-server runtime ([codex] runtime = app-server)"
    return None


def home_listing(home: Path, *, why: str) -> ReleaseListing:
    """The releases of a runner home no daemon runs on (``why`` says what cannot be done)."""
    releases = ReleasesHome(home)
    return ReleaseListing(
        releases=releases.releases(),
        current=releases.current().name,
        pointers=releases.pointers(),
        pending=None,
        switchable=why,
        records=releases.records(20),
        jobs=[],
    )
