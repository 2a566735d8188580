"""Installing a Codex release: a failed install leaves nothing behind; jobs report it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_runner.service.codex_releases import PINNED, Release, ReleaseError, ReleasesHome
from codex_runner.service.codex_releases_install import (
    InstallFailed,
    InstallJobs,
    install_release,
    remove_stale_partials,
)


@pytest.fixture
def releases(tmp_path: Path) -> ReleasesHome:
    return ReleasesHome(tmp_path, pinned=Release(PINNED, "0.163.0", tmp_path / "codex", None))


def offline(tmp_path: Path) -> tuple[str, ...]:
    empty = tmp_path / "no-wheels"
    empty.mkdir(exist_ok=True)
    return ("--no-index", "--find-links", str(empty))


async def test_a_failed_install_leaves_no_folder_and_says_what_pip_said(
    releases: ReleasesHome, tmp_path: Path
) -> None:
    lines: list[str] = []
    with pytest.raises(InstallFailed, match="pip exited with status"):
        await install_release(
            releases, "0.1.0", pip_args=offline(tmp_path), timeout_s=120, progress=lines.append
        )
    assert list(releases.root.iterdir()) == []
    assert lines[0] == "pip install openai-codex-cli-bin==0.1.0"
    assert releases.installed() == []


async def test_an_install_job_records_progress_and_failure(
    releases: ReleasesHome, tmp_path: Path
) -> None:
    jobs = InstallJobs(releases, pip_args=offline(tmp_path), timeout_s=120)
    job = jobs.start("0.1.0")
    with pytest.raises(ReleaseError, match="being installed already"):
        jobs.start("0.1.0")
    done = await jobs.wait(job.id, 120)
    assert done is not None and done.state == "failed"
    assert done.error and "pip exited" in done.error
    assert done.lines[-1].startswith("failed: ")
    await jobs.close()


async def test_an_installed_version_is_not_installed_again(releases: ReleasesHome) -> None:
    (releases.root / "codex-0.1.0").mkdir(parents=True)
    with pytest.raises(ReleaseError, match="already installed"):
        await install_release(releases, "0.1.0")
    with pytest.raises(ReleaseError, match="already installed"):
        InstallJobs(releases).start("0.1.0")


async def test_at_most_two_installs_run_at_once(releases: ReleasesHome, tmp_path: Path) -> None:
    jobs = InstallJobs(releases, pip_args=offline(tmp_path), timeout_s=120)
    first, second = jobs.start("0.1.0"), jobs.start("0.2.0")
    with pytest.raises(ReleaseError, match="2 installs run already"):
        jobs.start("0.3.0")
    await jobs.close()
    assert {j.state for j in (first, second)} == {"failed"}
    assert not releases.root.exists() or list(releases.root.iterdir()) == []  # nothing left


def test_an_unfinished_install_a_crash_left_is_removed_once_it_is_old(
    releases: ReleasesHome,
) -> None:
    old = releases.root / ".codex-0.1.0.partial-a"
    young = releases.root / ".codex-0.2.0.partial-b"
    for folder in (old, young):
        (folder / "codex_cli_bin").mkdir(parents=True)
    os.utime(old, (0, 0))
    assert remove_stale_partials(releases, older_than_s=3600) == [old]
    assert young.exists() and not old.exists()
