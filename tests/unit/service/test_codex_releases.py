"""Codex releases: the pointers and records on disk, and the rules of a switch (refused while
turns run, waiting when idle, switched back when the readiness check fails)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from codex_runner.codex.errors import RuntimeUnavailable, TurnBusy
from codex_runner.service.codex_releases import (
    PINNED,
    Pointers,
    Release,
    ReleaseError,
    ReleasesHome,
    check_version,
    version_key,
)
from codex_runner.service.codex_releases_check import CheckReport
from codex_runner.service.codex_releases_switch import (
    ReleaseSwitcher,
    SwitchAsk,
    SwitchRefused,
)

from .turn_counting import TurnCounting


def fake_release(home: Path, version: str) -> Path:
    """A folder laid out as ``pip install --target`` leaves openai-codex-cli-bin."""
    package = home / "releases" / f"codex-{version}" / "codex_cli_bin"
    (package / "bin").mkdir(parents=True)
    (package / "codex-package.json").write_text("{}")
    binary = package / "bin" / "codex"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


@pytest.fixture
def releases(tmp_path: Path) -> ReleasesHome:
    pinned = Release(PINNED, "0.163.0", tmp_path / "pinned-codex", None)
    fake_release(tmp_path, "0.162.1")
    fake_release(tmp_path, "0.10.0")
    return ReleasesHome(tmp_path, pinned=pinned)


class FakeRuntime(TurnCounting):
    """Counts running turns; records the binaries it restarted on; fails on ``broken``."""

    def __init__(self, broken: set[str] | None = None) -> None:
        super().__init__()
        self.binaries: list[tuple[str, bool]] = []
        self.broken = broken or set()

    async def switch_codex_home(
        self, codex_home: Path | None, *, force: bool = False, binary: Path | None = None
    ) -> None:
        assert codex_home is None and binary is not None
        if self.turns and not force:
            raise TurnBusy("busy")
        name = binary.parent.parent.parent.name if "codex_cli_bin" in binary.parts else PINNED
        self.binaries.append((name, force))
        if name in self.broken:
            raise RuntimeUnavailable("codex exited during initialize")


def passing_check(failing: set[str] = frozenset()):  # type: ignore[assignment]
    checked: list[str] = []

    async def check(release: Release) -> CheckReport:
        checked.append(release.name)
        if release.name in failing:
            return CheckReport(False, ["FAILED: turn/start: the smoke turn failed"])
        return CheckReport(True, ["ok: the smoke turn completed"])

    check.checked = checked  # type: ignore[attr-defined]
    return check


def switcher(releases: ReleasesHome, runtime: FakeRuntime, **kwargs: object) -> ReleaseSwitcher:
    clock = lambda: datetime(2026, 12, 3, tzinfo=UTC)  # noqa: E731
    kwargs.setdefault("check", passing_check())
    return ReleaseSwitcher(releases, runtime, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_the_pinned_wheel_is_listed_first_and_current_when_nothing_was_switched(
    releases: ReleasesHome,
) -> None:
    assert [r.name for r in releases.releases()] == [PINNED, "0.10.0", "0.162.1"]
    assert releases.current().name == PINNED
    assert releases.pointers() == Pointers()


def test_an_unfinished_install_and_a_folder_without_binary_are_not_releases(
    releases: ReleasesHome,
) -> None:
    (releases.root / ".codex-0.1.0.partial-x" / "codex_cli_bin").mkdir(parents=True)
    (releases.root / "codex-0.2.0").mkdir()
    assert "0.2.0" not in [r.name for r in releases.installed()]
    with pytest.raises(ReleaseError, match=r"codex-runner codex install 0\.2\.0"):
        releases.release("0.2.0")


def test_the_pinned_version_names_the_pinned_wheel(releases: ReleasesHome) -> None:
    assert releases.release("0.163.0").name == PINNED


@pytest.mark.parametrize("text", ["--index-url=x", "../0.1.0", "0.1", "latest", "1.2.3 x"])
def test_a_version_pip_could_misread_is_refused(text: str) -> None:
    if text == "0.1":
        assert check_version(text) == "0.1"
        return
    with pytest.raises(ReleaseError, match="not a Codex release version"):
        check_version(text)


def test_versions_sort_as_numbers() -> None:
    assert sorted(["0.9.0", "0.10.0", "0.162.1"], key=version_key) == [
        "0.9.0",
        "0.10.0",
        "0.162.1",
    ]


def test_pointers_survive_a_reread_and_a_broken_file_reads_as_none(
    releases: ReleasesHome,
) -> None:
    releases.write_pointers(Pointers("0.162.1", PINNED, "0.10.0"))
    assert ReleasesHome(releases.root.parent).pointers() == Pointers("0.162.1", PINNED, "0.10.0")
    assert not list(releases.root.glob(".pointers-*"))  # the temporary file was renamed
    (releases.root / "pointers.json").write_text("{not json")
    assert releases.pointers() == Pointers()


async def test_a_switch_restarts_on_the_release_checks_it_and_moves_the_pointers(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    told: list[str] = []
    s = switcher(releases, runtime, on_switched=lambda r: told.append(r.name))
    outcome = await s.use(SwitchAsk("0.162.1", who="cli:ann"))
    assert outcome.record is not None and outcome.record.result == "switched"
    assert runtime.binaries == [("codex-0.162.1", False)]
    assert releases.pointers() == Pointers("0.162.1", PINNED, None)
    assert releases.current().name == "0.162.1"
    assert told == ["0.162.1"]
    [record] = releases.records()
    assert (record.who, record.from_release, record.to_release) == ("cli:ann", PINNED, "0.162.1")
    assert "ok: the smoke turn completed" in record.check


async def test_a_failing_check_switches_back_and_marks_the_release_failed(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    s = switcher(releases, runtime, check=passing_check({"0.10.0"}))
    await s.use(SwitchAsk("0.162.1", who="a"))
    outcome = await s.use(SwitchAsk("0.10.0", who="b"))
    assert outcome.record is not None and outcome.record.result == "rolled_back"
    assert runtime.binaries[-2:] == [("codex-0.10.0", False), ("codex-0.162.1", True)]
    assert releases.pointers() == Pointers("0.162.1", PINNED, "0.10.0")
    assert any("smoke turn failed" in line for line in outcome.record.check)


async def test_a_check_that_cannot_run_counts_as_failed_and_switches_back(
    releases: ReleasesHome,
) -> None:
    async def broken_check(release: Release) -> CheckReport:
        raise ValueError("no scratch folder")

    runtime = FakeRuntime()
    outcome = await switcher(releases, runtime, check=broken_check).use(SwitchAsk("0.10.0", "a"))
    assert outcome.record is not None and outcome.record.result == "rolled_back"
    assert "FAILED: the check could not run: no scratch folder" in outcome.record.check
    assert runtime.binaries == [("codex-0.10.0", False), (PINNED, True)]


async def test_a_release_that_does_not_start_is_switched_back_from_too(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime(broken={"codex-0.10.0"})
    check = passing_check()
    s = switcher(releases, runtime, check=check)
    outcome = await s.use(SwitchAsk("0.10.0", who="a"))
    assert outcome.record is not None and outcome.record.result == "rolled_back"
    assert check.checked == []  # type: ignore[attr-defined]
    assert releases.pointers().failed == "0.10.0" and releases.current().name == PINNED


async def test_a_switch_is_refused_while_turns_run_and_the_refusal_is_recorded(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    s = switcher(releases, runtime)
    with pytest.raises(SwitchRefused, match="--when-idle"):
        await s.use(SwitchAsk("0.162.1", who="a"))
    assert runtime.binaries == []
    assert releases.records()[0].result == "refused"
    assert releases.current().name == PINNED


async def test_allow_active_switches_at_once_interrupting_the_turns(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    outcome = await switcher(releases, runtime).use(
        SwitchAsk("0.162.1", who="a", allow_active=True)
    )
    assert outcome.record is not None and outcome.record.result == "switched"
    assert runtime.binaries == [("codex-0.162.1", True)]


async def test_when_idle_waits_for_the_running_turns_then_switches(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    s = switcher(releases, runtime)
    outcome = await s.use(SwitchAsk("0.162.1", who="a", when_idle=True))
    assert outcome.pending == "0.162.1" and s.pending == "0.162.1"
    assert runtime.binaries == []
    runtime.end_turn()
    await s.wait_pending(10)
    assert runtime.binaries == [("codex-0.162.1", False)]
    assert releases.current().name == "0.162.1" and s.pending is None


async def test_when_idle_gives_up_after_its_bound_and_records_why(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    runtime.start_turn()
    s = switcher(releases, runtime, idle_timeout_s=0.01)
    await s.use(SwitchAsk("0.162.1", who="a", when_idle=True))
    await s.wait_pending(10)
    assert runtime.binaries == []
    assert "dropped" in releases.records()[0].message


async def test_rollback_goes_to_previous_and_refuses_when_nothing_was_switched(
    releases: ReleasesHome,
) -> None:
    runtime = FakeRuntime()
    s = switcher(releases, runtime)
    with pytest.raises(ReleaseError, match="nothing was switched"):
        await s.rollback(SwitchAsk("", who="a"))
    await s.use(SwitchAsk("0.162.1", who="a"))
    outcome = await s.rollback(SwitchAsk("", who="b"))
    assert outcome.record is not None and outcome.record.action == "rollback"
    assert releases.pointers() == Pointers(PINNED, "0.162.1", None)
    assert releases.current().name == PINNED


async def test_switching_to_the_release_in_use_is_refused(releases: ReleasesHome) -> None:
    with pytest.raises(ReleaseError, match="already in use"):
        await switcher(releases, FakeRuntime()).use(SwitchAsk(PINNED, who="a"))


def test_records_are_newest_first_and_a_torn_line_is_skipped(releases: ReleasesHome) -> None:
    releases.root.mkdir(exist_ok=True)
    lines = [
        json.dumps({"at": "1", "who": "a", "action": "use", "from_release": "x",
                    "to_release": "y", "result": "switched", "message": "m"}),
        '{"at": "2", "who"',
    ]  # fmt: skip
    (releases.root / "switches.jsonl").write_text("\n".join(lines) + "\n")
    assert [r.at for r in releases.records()] == ["1"]
