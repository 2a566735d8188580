"""Codex releases against a real daemon: two real Codex versions from the package index (the
pinned one and the release before it) installed, switched between with the scripted-model
check, a release that fails its check switched back from, and a switch refused while a turn
runs. The wheels are downloaded once per run (into the test's tmp) and installed from there."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from codex_runner.mockmodel import MockModelServer
from codex_runner.service.codex_releases import CODEX_PACKAGE, pinned_version, version_key

from .harness import TERMINAL, Daemon, wait_state, write_config

pytestmark = [pytest.mark.acceptance, pytest.mark.package_index, pytest.mark.timeout(420)]

PIP_TIMEOUT_S = 240


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
    )


def previous_release(pin: str) -> str:
    """The newest release of the Codex wheel older than ``pin``, as the package index says."""
    listed = pip("index", "versions", CODEX_PACKAGE)
    if listed.returncode != 0:
        pytest.skip(f"pip cannot reach the package index: {listed.stderr.strip()[-300:]}")
    found = re.search(r"Available versions: (.*)", listed.stdout)
    assert found, listed.stdout
    older = [
        v.strip() for v in found.group(1).split(",") if version_key(v.strip()) < version_key(pin)
    ]
    if not older:
        pytest.skip(f"the package index lists no {CODEX_PACKAGE} older than {pin}")
    return max(older, key=version_key)


@pytest.fixture(scope="module")
def codex_wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A folder with the pinned wheel and the one before it; their versions."""
    pin = pinned_version()
    previous = previous_release(pin)
    wheels = tmp_path_factory.mktemp("codex-wheels")
    for version in (previous, pin):
        got = pip("download", "--no-deps", "-d", str(wheels), f"{CODEX_PACKAGE}=={version}")
        if got.returncode != 0:
            pytest.skip(f"pip cannot download {CODEX_PACKAGE}=={version}: {got.stderr[-300:]}")
    return wheels, previous, pin


@pytest.fixture
async def daemon(
    tmp_path: Path, daemon_model: MockModelServer, codex_wheels: tuple[Path, str, str]
) -> AsyncIterator[Daemon]:
    home = tmp_path / "home"
    write_config(
        home,
        daemon_model,
        service={"max_concurrent_tasks": 2},
        codex={"sandbox": "workspace-write", "approval_policy": "never"},
    )
    wheels = codex_wheels[0]
    with (home / "config.toml").open("a") as config:
        config.write(f'\n[releases]\npip_args = ["--no-index", "--find-links", "{wheels}"]\n')
    started = Daemon(home)
    await started.start()
    try:
        yield started
    finally:
        started.stop()


def fake_release(home: Path, version: str) -> None:
    """A "release" whose codex exits at once: the switch to it must fail and go back."""
    package = home / "releases" / f"codex-{version}" / "codex_cli_bin"
    (package / "bin").mkdir(parents=True)
    (package / "codex-package.json").write_text("{}")
    binary = package / "bin" / "codex"
    binary.write_text("#!/bin/sh\necho 'this codex is broken' >&2\nexit 3\n")
    binary.chmod(0o755)


async def codex_version(client: httpx.AsyncClient) -> str:
    status = (await client.get("/v1/status")).json()
    return str(status["runtime"]["codex_version"])


async def test_install_switch_check_roll_back_and_refuse_while_a_turn_runs(
    daemon: Daemon, codex_wheels: tuple[Path, str, str], tmp_path: Path
) -> None:
    _, previous, pin = codex_wheels
    async with daemon.client() as client:
        # Install: the CLI follows the daemon's job; the API's job reports its lines.
        code, out, err = await daemon.cli("codex", "install", previous)
        assert code == 0, err
        assert f"installed Codex {previous}" in out
        job = (await client.post("/v1/codex/releases", json={"version": pin})).json()
        for _ in range(PIP_TIMEOUT_S * 2):
            job = (await client.get(f"/v1/codex/releases/jobs/{job['id']}")).json()
            if job["state"] != "running":
                break
            await wait_a_little()
        assert job["state"] == "succeeded", job
        assert any("installed Codex" in line for line in job["lines"])

        # Use the previous release: restarted on it, checked, a task runs on it.
        code, out, err = await daemon.cli("codex", "use", previous)
        assert code == 0, err + out
        assert "ok: turn/start: the smoke turn completed" in out
        assert await codex_version(client) == previous
        task = (
            await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(tmp_path)})
        ).json()
        assert (await wait_state(client, task["id"], TERMINAL))["state"] == "completed"

        # Then the pinned version from its own release folder; rollback goes back.
        code, out, err = await daemon.cli("codex", "use", pin)
        assert code == 0, err + out
        assert await codex_version(client) == pin
        code, out, err = await daemon.cli("codex", "rollback")
        assert code == 0, err + out
        assert await codex_version(client) == previous

        # A release that cannot start fails its check: back on the previous one, marked failed.
        fake_release(daemon.home, "0.0.1")
        code, out, err = await daemon.cli("codex", "use", "0.0.1")
        assert code == 1
        assert "FAILED" in out and "back on" in out
        assert await codex_version(client) == previous
        listing = (await client.get("/v1/codex/releases")).json()
        assert (listing["current"], listing["failed"]) == (previous, "0.0.1")

        # While a turn runs, a switch is refused (and recorded); the turn goes on.
        held = (
            await client.post("/v1/tasks", json={"prompt": "hold the line", "cwd": str(tmp_path)})
        ).json()
        await wait_state(client, held["id"], {"running"})
        await wait_for_turn(client, held["id"])
        code, out, err = await daemon.cli("codex", "use", pin)
        assert code == 1 and "--when-idle" in err, err
        assert (await client.get(f"/v1/tasks/{held['id']}")).json()["state"] == "running"
        assert await codex_version(client) == previous
        await client.post(f"/v1/tasks/{held['id']}/cancel")

        code, out, err = await daemon.cli("codex", "versions", "--json")
        assert code == 0, err
        listing = json.loads(out)
        assert [s["result"] for s in listing["switches"][:5]] == [
            "refused",
            "rolled_back",
            "switched",
            "switched",
            "switched",
        ]
        assert listing["switches"][0]["who"].startswith("cli:")
        marks = {r["name"]: (r["current"], r["previous"], r["failed"]) for r in listing["releases"]}
        assert marks[previous] == (True, False, False) and marks["0.0.1"] == (False, False, True)

    # A daemon started again runs the current release.
    daemon.stop()
    await daemon.start()
    async with daemon.client() as client:
        assert await codex_version(client) == previous


async def wait_for_turn(client: httpx.AsyncClient, task_id: str) -> None:
    """Until the task's turn runs in Codex (its running turn is what a switch refuses for)."""
    for _ in range(600):
        task = (await client.get(f"/v1/tasks/{task_id}")).json()
        if task.get("current_turn_id"):
            return
        await wait_a_little()
    raise AssertionError(f"task {task_id} never started its turn")


async def wait_a_little() -> None:
    await asyncio.sleep(0.1)  # polling the daemon's answers: there is no event to wait on
