"""``codex-runner serve``: the daemon, its HTTP API and its bridges in one process.

Order: the home's lock (one daemon per home), the API token (refused if others can read
it), the daemon's parts (store migrated, Codex initialized, crashed tasks reconciled), the
HTTP server (with MCP at ``/mcp``, set up on its first request), then ``daemon.json`` so
clients find the URL; the Slack bridge starts last because it needs the URL. Shutdown
(SIGINT or SIGTERM, alike) runs the same steps backwards, each bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import uvicorn
from starlette.routing import Route

from codex_runner.api.app import create_app
from codex_runner.api.auth_routes import auth_profiles_router, auth_router
from codex_runner.api.raw_http import RawHttpLog
from codex_runner.api.routes_codex_releases import releases_router
from codex_runner.api.routes_disk import disk_router
from codex_runner.api.routes_jobs import job_routes
from codex_runner.api.routes_logs import log_routes
from codex_runner.api.routes_metrics import metrics_router
from codex_runner.api.routes_notify import notify_routes
from codex_runner.bridges.link.holder import LinkHolder
from codex_runner.bridges.link.routes import link_router
from codex_runner.bridges.slack.settings import resolve as slack_settings
from codex_runner.config import LinkSettings, RunnerConfig
from codex_runner.daemon import logs
from codex_runner.daemon.assembly import Daemon
from codex_runner.daemon.home_lock import acquire as acquire_home_lock
from codex_runner.daemon.startup import since_import
from codex_runner.daemon.stop_signals import StopRequested, StopSignals
from codex_runner.http.auth import host_allowlist
from codex_runner.http.routing import Router
from codex_runner.http.wire_link import LinkOut
from codex_runner.mcp_server.mount import MCP_PATH, McpMount
from codex_runner.runner_home.api_token import ensure_token, token_path
from codex_runner.runner_home.daemon_info import DaemonInfo, remove_info, write_info
from codex_runner.runner_home.file_modes import make_private_by_default
from codex_runner.runner_home.link_token import LinkTokenError, link_token
from codex_runner.service.auth_profiles import AuthProfiles, profiles_unavailable_reason
from codex_runner.service.disk_account import DiskAccount
from codex_runner.service.jobs import TaskKeys
from codex_runner.service.metrics_snapshot import NO_PROFILE, MetricsProbes
from codex_runner.service.operations import OperationsReader, ReleaseInUse
from codex_runner.web import AdminSessions, admin_access, admin_router

if TYPE_CHECKING:
    from codex_runner.bridges.slack import SlackBridge
    from codex_runner.http.sse import EventStreams

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 15.0
MAX_PORT = 65535


class ServeError(Exception):
    """The daemon cannot start; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback address unless allowed; returns the warning to print if allowed."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise ServeError(
            f"refusing to listen on {host}: the API runs commands on this machine; "
            "pass --allow-remote to bind a non-loopback address (and protect the token)"
        )
    return (
        f"warning: listening on {host}: anyone who can reach this address and holds the "
        f"token in {{home}}/api-token can run commands on this machine"
    )


async def serve(
    config: RunnerConfig,
    *,
    host: str,
    port: int,
    on_listening: Callable[[str], None],
    allow_remote: bool = False,
    stop: StopSignals | None = None,
) -> None:
    """Run until SIGINT/SIGTERM; ``on_listening(url)`` is called once clients can connect.

    The home's lock comes first (:mod:`~codex_runner.daemon.home_lock`): a second daemon on
    the same home is refused before it reconciles, opens the store or touches ``run/``.
    ``stop`` lets a caller (tests) ask for the stop a signal would.
    """
    warning = check_bind(host, allow_remote)
    # Everything the daemon writes from here on is private (see file_modes).
    make_private_by_default()
    config.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with acquire_home_lock(config.home), stop or StopSignals() as signals:
        if warning:
            print(warning.replace("{home}", str(config.home)), file=sys.stderr)
        token = ensure_token(config.home)
        handler = logs.install(config.home / "logs", config.logs, rpc_log=config.service.rpc_log)
        daemon = Daemon(config, logs=handler)
        daemon.startup.imports_s = since_import()
        try:
            await signals.unless_stopped(daemon.start())
            await _serve_api(
                daemon,
                config,
                token,
                host=host,
                port=port,
                on_listening=on_listening,
                signals=signals,
            )
        except StopRequested:
            log.info("stopped while starting")
        finally:
            await daemon.stop(reason=signals.reason)
            handler.stop()


async def _serve_api(
    daemon: Daemon,
    config: RunnerConfig,
    token: str,
    *,
    host: str,
    port: int,
    on_listening: Callable[[str], None],
    signals: StopSignals,
) -> None:
    began = time.perf_counter()
    # Bind first: with --port 0 the URL (which the Slack bridge hands to agents) is known
    # before anything else starts, and a port in use fails here with a clear message.
    sock = listen(host, port)
    url = f"http://{_url_host(host)}:{sock.getsockname()[1]}"
    routers: list[Router] = []
    bridge = None
    if slack_settings(config) is not None:  # tokens configured: the bridge runs
        from codex_runner.bridges.slack import SlackBridge, slack_router

        raw_events = daemon.logs.raw_layer("slack-events") if daemon.logs is not None else None
        bridge = SlackBridge(
            config, daemon.service, daemon_url=url, raw_events=raw_events, bus=daemon.bus
        )
        routers.append(slack_router(bridge))
    links, link_settings = _chat_link(config, daemon)
    routers.append(link_router(links))
    if daemon.switcher is not None:
        routers.append(auth_router(daemon.switcher))
    no_profiles = profiles_unavailable_reason(config)
    routers.append(auth_profiles_router(_auth_profiles(daemon), unavailable=no_profiles))
    sessions = AdminSessions()
    disk = daemon.metrics.disk if daemon.metrics is not None else None
    routers.append(
        admin_router(
            daemon.service,
            daemon.bus,
            token=token,
            sessions=sessions,
            disk=disk,
            disk_policy=daemon.disk_policy,
            operations=_operations(daemon, bridge, links),
        )
    )
    routers.append(log_routes(daemon.paths.logs))
    if daemon.notifier is not None:
        routers.append(notify_routes(daemon.notifier))
    if daemon.jobs is not None:
        keys = TaskKeys(token.encode())
        routers.extend(
            job_routes(daemon.jobs, token=token, keys=keys, session_task=_session_task(bridge))
        )
        if bridge is not None:  # a job's report re-queues a chat task: relay its turn
            daemon.jobs.supervisor.on_reported.append(bridge.follow_task)
        daemon.jobs.supervisor.on_reported.append(links.follow_task)
    if daemon.metrics is not None:
        routers.append(metrics_router(daemon.metrics, public=config.metrics.public))
    if disk is not None and daemon.disk_policy is not None:
        routers.append(disk_router(DiskAccount(disk, daemon.disk_policy)))
    if daemon.releases is not None:
        routers.append(releases_router(daemon.releases))
    hosts = host_allowlist(host, sock.getsockname()[1], _machine_names(host))
    mcp = McpMount(daemon.service, config.mcp, allowed_hosts=hosts)
    app = create_app(
        daemon.service,
        token=token,
        ready=daemon.ready,
        readiness=daemon.readiness,
        home_problem=daemon.home_problem,
        routers=routers,
        gc_retention_s=config.service.worktree_retention_s,
        browser=admin_access(sessions),
        allowed_hosts=hosts,
        link_status=lambda: LinkOut.of(s) if (s := links.status()) is not None else None,
    )
    # MCP: an ASGI app of its own, not a JSON route; routed beside the API's routes, so the
    # same middleware (bearer token, Host check) guards it.
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp))
    http_log = daemon.logs.raw_layer("http") if daemon.logs is not None else None
    if http_log is not None:  # outermost: requests the token check refuses are recorded too
        app.add_middleware(RawHttpLog, layer=http_log)
    if daemon.metrics is not None:
        daemon.metrics.probes = _metrics_probes(daemon, app.state.event_streams, bridge, links)
    server = _Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="http-server")
    try:
        await _wait_started(server, serving)
        daemon.startup.http_s = time.perf_counter() - began
        write_info(config.home, DaemonInfo(url=url, pid=os.getpid(), started_at=_now_iso()))
        daemon.startup.total_s = since_import()
        log.info(
            "daemon ready in %.3f s",
            daemon.startup.total_s,
            extra={"fields": daemon.startup.fields()},
        )
        if bridge is not None:
            await bridge.start()
        if link_settings is not None:
            await links.start(*link_settings)
        on_listening(url)
        # A code, not the token: the link works once, for a few minutes.
        print(f"Admin page: {url}/admin/login?once={sessions.issue_login_code()}", flush=True)
        stopped = asyncio.create_task(signals.wait(), name="stop-signal")
        try:
            await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
    finally:
        server.should_exit = True
        app.state.event_streams.close_all()
        await mcp.aclose()
        with contextlib.suppress(Exception):
            if bridge is not None:
                await bridge.stop()
        with contextlib.suppress(Exception):
            await links.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
            await asyncio.wait_for(serving, SHUTDOWN_TIMEOUT_S)
        sock.close()
        remove_info(config.home, os.getpid())


def _chat_link(
    config: RunnerConfig, daemon: Daemon
) -> tuple[LinkHolder, tuple[LinkSettings, str] | None]:
    """The daemon's link holder, and what ``[link]`` asks it to run at start (url and
    runner_id set); a configured link without a token stops the start."""
    holder = LinkHolder(config, daemon.service, daemon.bus)
    settings = config.link
    if settings.url is None or settings.runner_id is None:
        return holder, None
    try:
        return holder, (settings, link_token(settings))
    except LinkTokenError as exc:
        raise ServeError(str(exc)) from None


def _session_task(bridge: SlackBridge | None) -> Callable[[str], str | None]:
    """The task of a Slack session's helper key: an agent there starts its jobs with it."""

    def task_of(helper_key: str) -> str | None:
        helpers = bridge.helpers if bridge is not None else None
        if helpers is None:
            return None
        from codex_runner.bridges.slack.helper_rules import HelperRefused

        try:
            return helpers.session(helper_key).task_id
        except HelperRefused:
            return None

    return task_of


def _auth_profiles(daemon: Daemon) -> AuthProfiles | None:
    if daemon.switcher is None:  # exec runtime or a pinned codex.home
        return None
    runtime = daemon.runtime
    return AuthProfiles(daemon.switcher, rate_limits=lambda: runtime.status().rate_limits)


def _bridge_states(bridge: SlackBridge | None, links: LinkHolder) -> dict[str, str]:
    """Each running bridge's connection state (``connected`` is the one that counts as up)."""
    states = {}
    if bridge is not None:
        states["slack"] = "connected" if bridge.connected else "connecting"
    if (link := links.status()) is not None:
        states["link"] = link.state
    return states


def _operations(daemon: Daemon, bridge: SlackBridge | None, links: LinkHolder) -> OperationsReader:
    """The admin page's Operations view, over what only the adapters know."""

    def chat_input() -> dict[str, int]:
        queued = {"slack": bridge.queued_messages()} if bridge is not None else {}
        if (in_link := links.queued_messages()) is not None:
            queued["link"] = in_link
        return queued

    def release() -> ReleaseInUse | None:
        if daemon.releases is None:
            return None
        current = daemon.releases.home.current()
        return ReleaseInUse(current.name, current.version)

    return OperationsReader(
        daemon.service,
        disk=daemon.metrics.disk if daemon.metrics is not None else None,
        release=release,
        bridges=lambda: _bridge_states(bridge, links),
        chat_input=chat_input,
    )


def _metrics_probes(
    daemon: Daemon, streams: EventStreams, bridge: SlackBridge | None, links: LinkHolder
) -> MetricsProbes:
    """What /metrics reads from the adapters: open streams, bridges, the auth profile."""

    switcher = daemon.switcher
    return MetricsProbes(
        sse_streams=lambda: streams.open_count,
        bus_subscribers=daemon.bus.subscriber_count,
        bridges=lambda: _bridge_states(bridge, links),
        auth_profile=lambda: switcher.active if switcher is not None else NO_PROFILE,
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handling: StopSignals owns SIGINT and SIGTERM (uvicorn
    re-raises a caught SIGTERM when it stops, which killed the daemon mid-cleanup)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """The API's listening socket; ServeError (saying what to do) if it cannot bind."""
    if not 0 <= port <= MAX_PORT:
        raise ServeError(
            f"--port {port} is not a port: pick one from 0 to {MAX_PORT} (0: any free)"
        )
    try:
        sock = socket.create_server((host, port), family=_family(host))
    except OSError as exc:
        raise ServeError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "pick another --port or stop the process using it"
        ) from exc
    # Accepted connections inherit this. asyncio turns Nagle off only on sockets whose
    # protocol number says TCP, and create_server's say 0; with Nagle on, a response's body
    # (written after its headers) waited for the client's delayed ACK: 40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


async def _wait_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while not server.started:  # uvicorn offers a flag, not an event
        if serving.done():
            raise ServeError("the HTTP server stopped while starting; see logs/runner/")
        if loop.time() > deadline:
            raise ServeError(f"the HTTP server did not start within {START_TIMEOUT_S:g}s")
        await asyncio.sleep(0.002)


def _machine_names(host: str) -> tuple[str, ...]:
    """Names a remote browser may use for a wildcard bind (the loopback ones are implied)."""
    if host not in ("0.0.0.0", "::", ""):
        return ()
    return (socket.gethostname(), socket.getfqdn())


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


__all__ = ["ServeError", "check_bind", "serve", "token_path"]
