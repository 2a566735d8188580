"""One owner of one Codex app-server connection, from spawn (or connect) to reap.

``async with AppServerConnection(launcher, ...) as conn`` starts the peer (a child on stdio,
or a running app-server's Unix socket), shakes hands, routes notifications and server
requests to the callbacks it was given, and on the way out closes the connection and reaps
the child, shielded and with a deadline on every wait. The runtime and the account session
both talk to Codex through it; only what they do with the connection differs.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from codex_runner.codex.binary import bundled_path_dir, find_codex_binary
from codex_runner.codex.endpoint import (
    connect_path,
    parse_endpoint,
    prepare_socket_folder,
    shared_socket_path,
)
from codex_runner.codex.errors import CodexError, RuntimeUnavailable, TransportClosed
from codex_runner.codex.handshake import ServerInfo, initialize
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.codex.jsonrpc import (
    CloseCallback,
    JsonRpcConnection,
    NotificationRouter,
    ServerRequestHandler,
)
from codex_runner.codex.process import ChildProcess, PidRegistry
from codex_runner.codex.transport import StdioTransport, Transport
from codex_runner.config import RunnerConfig

# Starts (or reaches) a Codex app-server and returns its transport, and the child when the
# caller owns one. Tests hand in a launcher that returns a fake transport.
Launcher = Callable[[], Awaitable[tuple[Transport, ChildProcess | None]]]


async def spawn_app_server(
    config: RunnerConfig, registry: PidRegistry
) -> tuple[Transport, ChildProcess]:
    """Start ``codex app-server`` on stdio in ``config``'s Codex home (written first)."""
    settings = config.codex
    binary = find_codex_binary(settings.bin)
    home = await asyncio.to_thread(prepare_codex_home, config)
    child = await ChildProcess.spawn(
        [str(binary), "app-server", "--listen", "stdio://"],
        env=child_environment(config, bundled_path_dir()),
        cwd=home,
        registry=registry,
        stdout_limit=settings.max_line_bytes,
    )
    return StdioTransport(child, write_timeout_s=settings.request_timeout_s), child


def stdio_launcher(config: RunnerConfig) -> Launcher:
    """A launcher that spawns a child app-server on ``config`` each time it is called."""
    registry = PidRegistry(config.pids_dir)

    async def launch() -> tuple[Transport, ChildProcess | None]:
        return await spawn_app_server(config, registry)

    return launch


async def spawn_shared_app_server(
    config: RunnerConfig, registry: PidRegistry
) -> tuple[Transport, ChildProcess]:
    """Start ``codex app-server --listen unix://PATH`` and connect to it.

    The runner owns the child exactly as on stdio (its process group, its pid file, the
    kernel's SIGTERM when the runner dies); other clients share the same Codex through the
    socket (see codex/endpoint.py for where it is and who may open it).
    """
    settings = config.codex
    binary = find_codex_binary(settings.bin)
    home = await asyncio.to_thread(prepare_codex_home, config)
    path = shared_socket_path(config)
    await asyncio.to_thread(prepare_socket_folder, path)
    child = await ChildProcess.spawn(
        [str(binary), "app-server", "--listen", f"unix://{path}"],
        env=child_environment(config, bundled_path_dir()),
        cwd=home,
        registry=registry,
        stdin_devnull=True,  # it does not read stdin, so closing it would not stop it
        stdout_devnull=True,
        # When the runner dies, stop at once: a listening Codex drains its turns for seconds
        # on SIGTERM (it needs a second one) and nothing would send that. Its tools die with
        # it (Codex arms their parent-death signal too); an unfinished turn's thread is
        # resumed, or replaced with context, by the next daemon.
        death_signal=signal.SIGKILL,
    )
    try:
        transport = await _connect_when_listening(child, path, config)
    except BaseException:
        await child.terminate(settings.shutdown_grace_s)
        raise
    return transport, child


async def _connect_when_listening(
    child: ChildProcess, path: Path, config: RunnerConfig
) -> Transport:
    settings = config.codex
    deadline = asyncio.get_running_loop().time() + settings.start_timeout_s
    delay = 0.005
    while True:
        if child.returncode is not None:
            raise RuntimeUnavailable(
                f"codex app-server exited before it listened on unix://{path}: "
                f"{child.describe_exit()}"
            )
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise RuntimeUnavailable(
                f"codex app-server did not listen on unix://{path} within "
                f"{settings.start_timeout_s:g}s; {child.describe_exit()}"
            )
        if await asyncio.to_thread(os.path.exists, path):  # follows the symlink to the socket
            from codex_runner.codex.socket_transport import WebSocketTransport

            try:
                return await WebSocketTransport.connect(
                    connect_path(path),
                    max_message_bytes=settings.max_line_bytes,
                    timeout_s=min(remaining, settings.start_timeout_s),
                    write_timeout_s=settings.request_timeout_s,
                )
            except TransportClosed:
                pass  # the socket exists but does not accept yet
        await asyncio.sleep(min(delay, max(remaining, 0.0)))
        delay = min(delay * 2, 0.1)


def shared_launcher(config: RunnerConfig) -> Launcher:
    """A launcher that spawns a child app-server listening on the shared socket."""
    registry = PidRegistry(config.pids_dir)

    async def launch() -> tuple[Transport, ChildProcess | None]:
        return await spawn_shared_app_server(config, registry)

    return launch


def unix_socket_launcher(path: Path, config: RunnerConfig) -> Launcher:
    """A launcher that connects to a running ``codex app-server --listen unix://PATH``."""

    async def launch() -> tuple[Transport, ChildProcess | None]:
        from codex_runner.codex.socket_transport import WebSocketTransport

        transport = await WebSocketTransport.connect(
            connect_path(path),
            max_message_bytes=config.codex.max_line_bytes,
            timeout_s=config.codex.start_timeout_s,
            write_timeout_s=config.codex.request_timeout_s,
        )
        return transport, None

    return launch


def external_launcher(config: RunnerConfig) -> Launcher:
    """A launcher that connects to ``[codex] url``, an app-server the runner does not own."""
    settings = config.codex
    assert settings.url is not None
    endpoint = parse_endpoint(settings.url)
    if endpoint.scheme == "unix":
        return unix_socket_launcher(Path(endpoint.address), config)

    async def launch() -> tuple[Transport, ChildProcess | None]:
        from codex_runner.codex.socket_transport import WebSocketTransport

        token = os.environ.get(settings.url_token_env) if settings.url_token_env else None
        transport = await WebSocketTransport.connect_url(
            endpoint.address,
            token=token,
            max_message_bytes=settings.max_line_bytes,
            timeout_s=settings.start_timeout_s,
            write_timeout_s=settings.request_timeout_s,
        )
        return transport, None

    return launch


def default_launcher(config: RunnerConfig) -> Launcher:
    """What ``config`` asks for: ``[codex] url``, else a child on the socket or on stdio."""
    if config.codex.url:
        return external_launcher(config)
    if config.codex.listen == "socket":
        return shared_launcher(config)
    return stdio_launcher(config)


async def _refuse(method: str, params: dict[str, Any]) -> Any:
    raise CodexError(f"codex-runner does not handle {method} on this connection")


def _ignore(method: str, params: dict[str, Any]) -> None:
    return None


class AppServerConnection:
    """A handshaken JSON-RPC connection to one app-server, and the child behind it."""

    def __init__(
        self,
        launcher: Launcher,
        *,
        on_notification: NotificationRouter = _ignore,
        on_server_request: ServerRequestHandler = _refuse,
        on_close: CloseCallback | None = None,
        request_timeout_s: float = 60.0,
        start_timeout_s: float = 30.0,
        shutdown_grace_s: float = 3.0,
        overload_retries: int = 5,
        wrap: Callable[[Transport], Transport] | None = None,
    ) -> None:
        self._launcher = launcher
        self._on_notification = on_notification
        self._on_server_request = on_server_request
        self._on_close = on_close
        self._request_timeout_s = request_timeout_s
        self._start_timeout_s = start_timeout_s
        self._shutdown_grace_s = shutdown_grace_s
        self._overload_retries = overload_retries
        self._wrap = wrap
        self._rpc: JsonRpcConnection | None = None
        self.child: ChildProcess | None = None
        self.info = ServerInfo(codex_version=None, user_agent="", codex_home=None)
        self._closed_lines = 0

    @classmethod
    def for_config(
        cls,
        config: RunnerConfig,
        *,
        launcher: Launcher | None = None,
        on_notification: NotificationRouter = _ignore,
        on_server_request: ServerRequestHandler = _refuse,
        on_close: CloseCallback | None = None,
        wrap: Callable[[Transport], Transport] | None = None,
    ) -> AppServerConnection:
        """A connection with ``config``'s timeouts; ``launcher`` defaults to a child on stdio."""
        settings = config.codex
        return cls(
            launcher or stdio_launcher(config),
            on_notification=on_notification,
            on_server_request=on_server_request,
            on_close=on_close,
            request_timeout_s=settings.request_timeout_s,
            start_timeout_s=settings.start_timeout_s,
            shutdown_grace_s=settings.shutdown_grace_s,
            overload_retries=settings.overload_retries,
            wrap=wrap,
        )

    async def __aenter__(self) -> AppServerConnection:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    @property
    def malformed_lines(self) -> int:
        return self._rpc.malformed_lines if self._rpc is not None else self._closed_lines

    @property
    def closed(self) -> bool:
        return self._rpc is None or self._rpc.closed

    async def open(self) -> ServerInfo:
        """Start the peer and shake hands; RuntimeUnavailable (peer reaped) when it fails."""
        if self._rpc is not None:
            raise RuntimeError("the app-server connection is already open")
        transport, self.child = await self._launcher()
        if self._wrap is not None:
            transport = self._wrap(transport)
        self._rpc = JsonRpcConnection(
            transport,
            on_notification=self._on_notification,
            on_server_request=self._on_server_request,
            on_close=self._on_close,
            request_timeout=self._request_timeout_s,
            overload_retries=self._overload_retries,
        )
        self._rpc.start()
        try:
            self.info = await initialize(self._rpc, timeout=self._start_timeout_s)
        except CodexError as exc:
            detail = transport.describe()
            await self.close()
            raise RuntimeUnavailable(
                f"codex app-server did not complete its handshake ({exc}); {detail}"
            ) from None
        except BaseException:
            await self.close()
            raise
        return self.info

    async def close(self) -> None:
        """Close the connection and reap the child; a cancelled caller cannot stop half way."""
        rpc, child = self._rpc, self.child
        self._rpc, self.child = None, None
        if rpc is not None:
            self._closed_lines = rpc.malformed_lines
        await asyncio.shield(self._shut(rpc, child))

    async def _shut(self, rpc: JsonRpcConnection | None, child: ChildProcess | None) -> None:
        if rpc is not None:
            await rpc.close()  # bounded: the reader gets 5 s to stop
        if child is not None:
            await child.terminate(self._shutdown_grace_s)  # bounded: grace, SIGTERM, SIGKILL

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        if self._rpc is None:
            raise TransportClosed("the app-server connection is not open")
        return await self._rpc.request(method, params, timeout=timeout)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        if self._rpc is None:
            raise TransportClosed("the app-server connection is not open")
        await self._rpc.notify(method, params)
