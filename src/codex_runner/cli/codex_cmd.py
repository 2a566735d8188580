"""``codex-runner codex versions|install|use|rollback``: the Codex releases the runner can run
(docs/releases.md). Through the running daemon when there is one; without one, ``versions``
and ``install`` act on the home directly (a switch needs the daemon that runs Codex)."""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_address import URL_ENV, api_token, resolve_url
from codex_runner.cli.daemon_errors import ClientError
from codex_runner.cli.daemon_session import UrlOption
from codex_runner.cli.render import error_exit, print_model_json
from codex_runner.cli.tables import Column, Fit, print_table
from codex_runner.config import default_home, load_config
from codex_runner.http.wire_releases import (
    InstallBody,
    InstallJobOut,
    ReleasesOut,
    RollbackBody,
    SwitchOut,
    UseBody,
    releases_out,
)
from codex_runner.runner_home.daemon_info import running_daemon
from codex_runner.service.codex_releases import (
    PINNED,
    ReleaseError,
    ReleasesHome,
    check_version,
)
from codex_runner.service.codex_releases_install import InstallFailed, install_release
from codex_runner.service.codex_releases_service import home_listing

codex_app = typer.Typer(
    help="The Codex releases the runner runs: list, install, switch, roll back.",
    no_args_is_help=True,
)
out = Console(highlight=False)
# A switch restarts Codex and runs a smoke turn: longer than an ordinary call may take.
SWITCH_TIMEOUT = httpx.Timeout(300.0, connect=5.0)
POLL_S = 0.5
NO_DAEMON = "no daemon runs on this home"
COLUMNS = (
    Column(""),
    Column("NAME"),
    Column("VERSION"),
    Column("MARKS"),
    Column("BINARY", Fit.SHORTEN, min_width=12, drop_rank=1),
)
AllowActive = Annotated[
    bool,
    typer.Option("--allow-active", help="Switch even while turns run (they end interrupted)."),
]
WhenIdle = Annotated[
    bool,
    typer.Option("--when-idle", help="Wait for running turns to finish, then switch."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


class ReleasesClient(DaemonClient):
    """The daemon's ``/v1/codex`` routes."""

    def __init__(self, base_url: str, token: str, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", SWITCH_TIMEOUT)
        super().__init__(base_url, token, **kwargs)

    def releases(self) -> ReleasesOut:
        return self._call(ReleasesOut, "GET", "/v1/codex/releases")

    def install(self, version: str) -> InstallJobOut:
        return self._call(
            InstallJobOut, "POST", "/v1/codex/releases", body=InstallBody(version=version)
        )

    def job(self, job_id: str) -> InstallJobOut:
        return self._call(InstallJobOut, "GET", f"/v1/codex/releases/jobs/{job_id}")

    def use(self, body: UseBody) -> SwitchOut:
        return self._call(SwitchOut, "POST", "/v1/codex/use", body=body)

    def rollback(self, body: RollbackBody) -> SwitchOut:
        return self._call(SwitchOut, "POST", "/v1/codex/rollback", body=body)


@contextmanager
def releases_session(url: str | None) -> Iterator[ReleasesClient]:
    try:
        home = default_home()
        client = ReleasesClient(resolve_url(home, url), api_token(home))
        try:
            yield client
        finally:
            client.close()
    except ClientError as exc:
        raise error_exit(str(exc), 1) from None


def daemon_runs(url: str | None) -> bool:
    return bool(url or os.environ.get(URL_ENV)) or running_daemon(default_home()) is not None


def who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@codex_app.command("versions")
def versions_command(json_output: JsonOption = False, url: UrlOption = None) -> None:
    """The installed Codex releases, the one in use, and the last switches."""
    if daemon_runs(url):
        with releases_session(url) as client:
            listing = client.releases()
    else:
        why = f"{NO_DAEMON}: start it (codex-runner serve) to switch releases"
        listing = releases_out(home_listing(default_home(), why=why))
    if json_output:
        print_model_json(listing)
        return
    print_releases(listing)


def print_releases(listing: ReleasesOut) -> None:
    rows = []
    for r in listing.releases:
        marks = [m for m, on in (("current", r.current), ("previous", r.previous)) if on]
        marks += ["failed"] if r.failed else []
        rows.append(("*" if r.current else "", r.name, r.version, ",".join(marks), r.binary))
    print_table(out, COLUMNS, rows)
    if listing.not_switchable:
        out.print(f"[dim]switching is off: {escape(listing.not_switchable)}[/]", soft_wrap=True)
    if listing.pending:
        out.print(f"switching to {escape(listing.pending)} once the running turns finish")
    for record in listing.switches[:5]:
        out.print(
            f"[dim]{escape(record.at)}[/] {escape(record.who)} {record.action} "
            f"{escape(record.from_release)} -> {escape(record.to_release)}: {record.result}"
        )


@codex_app.command("install")
def install_command(
    version: Annotated[str, typer.Argument(help="A version of openai-codex-cli-bin.")],
    url: UrlOption = None,
) -> None:
    """Install a Codex release into $CODEX_RUNNER_HOME/releases/codex-VERSION (pip --target)."""
    try:
        version = check_version(version)
    except ReleaseError as exc:
        raise error_exit(str(exc), 2) from None
    if daemon_runs(url):
        with releases_session(url) as client:
            job = follow_install(client, client.install(version))
        if job.state != "succeeded":
            raise error_exit(job.error or f"the install ended {job.state}", 1)
        return
    config = load_config(default_home())
    try:
        asyncio.run(
            install_release(
                ReleasesHome(config.home),
                version,
                pip_args=config.releases.pip_args,
                timeout_s=config.releases.install_timeout_s,
                progress=lambda line: out.print(escape(line), soft_wrap=True),
            )
        )
    except (ReleaseError, InstallFailed) as exc:
        raise error_exit(str(exc), 1) from None


def follow_install(client: ReleasesClient, job: InstallJobOut) -> InstallJobOut:
    """Print the job's progress lines as they come, until it ends (bounded)."""
    shown = 0
    deadline = time.monotonic() + load_config(default_home()).releases.install_timeout_s + 60
    while True:
        for line in job.lines[shown:]:
            out.print(escape(line), soft_wrap=True)
        shown = len(job.lines)  # lines are kept whole up to 200; more only in the daemon
        if job.state != "running":
            return job
        if time.monotonic() > deadline:
            raise error_exit(f"install job {job.id} still runs; see codex-runner codex versions")
        time.sleep(POLL_S)  # polling a job in another process: there is no event to wait on
        job = client.job(job.id)


@codex_app.command("use")
def use_command(
    version: Annotated[str, typer.Argument(help="An installed version, or 'pinned'.")],
    allow_active: AllowActive = False,
    when_idle: WhenIdle = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Switch the daemon's Codex to an installed release, check it, switch back if it fails."""
    if version != PINNED:
        try:
            version = check_version(version)
        except ReleaseError as exc:
            raise error_exit(str(exc), 2) from None
    body = UseBody(version=version, allow_active=allow_active, when_idle=when_idle, who=who())
    with releases_session(require_daemon(url, "use")) as client:
        show_switch(client.use(body), json_output)


@codex_app.command("rollback")
def rollback_command(
    allow_active: AllowActive = False,
    when_idle: WhenIdle = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Switch back to the previous release (installed already: nothing is downloaded)."""
    body = RollbackBody(allow_active=allow_active, when_idle=when_idle, who=who())
    with releases_session(require_daemon(url, "rollback")) as client:
        show_switch(client.rollback(body), json_output)


def require_daemon(url: str | None, command: str) -> str | None:
    if not daemon_runs(url):
        raise error_exit(
            f"codex {command} switches the Codex the daemon runs, and {NO_DAEMON}; start it "
            "with codex-runner serve (it starts on the current release)",
            1,
        )
    return url


def show_switch(result: SwitchOut, json_output: bool) -> None:
    if json_output:
        print_model_json(result)
    elif result.pending:
        out.print(f"switching to {escape(result.pending)} once the running turns finish")
    if result.switch is None:
        return
    if not json_output:
        for line in result.switch.check:
            out.print(escape(line), soft_wrap=True)
        out.print(escape(result.switch.message), soft_wrap=True)
    if result.switch.result != "switched":
        raise typer.Exit(1)
