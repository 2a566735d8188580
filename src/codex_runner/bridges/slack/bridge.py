"""SlackBridge: the Slack bridge as one object the daemon starts and stops.

``start()`` returns at once: the outbox and the relays run whatever Slack's state, and the
connection (``auth.test``, then Socket Mode) is made in the background with backoff, so a
Slack outage never blocks the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from codex_runner.bridges.chat.bridge_db import Session
from codex_runner.bridges.chat.core import ChatCore
from codex_runner.bridges.chat.outbox import Outbox
from codex_runner.bridges.chat.rules import session_key
from codex_runner.bridges.slack.agent_helpers import AgentHelpers, HelperKeys
from codex_runner.bridges.slack.api import SlackRejected, SlackUnavailable, WebSlackApi
from codex_runner.bridges.slack.app import Inbound, build_app
from codex_runner.bridges.slack.coauthor_api import CoauthorSlackApi
from codex_runner.bridges.slack.coauthor_prompt import CoauthorPrompt, register
from codex_runner.bridges.slack.conversations import Conversations, SlackHost
from codex_runner.bridges.slack.event_log import slack_task_log
from codex_runner.bridges.slack.finished_tasks import FinishedTasks
from codex_runner.bridges.slack.names import DisplayNames
from codex_runner.bridges.slack.rendering import SlackRenderer
from codex_runner.bridges.slack.session_files import SessionFiles, new_helper_key
from codex_runner.bridges.slack.settings import BridgeSettings
from codex_runner.bridges.slack.settings import resolve as resolve_settings
from codex_runner.bridges.slack.transport import SlackTransport
from codex_runner.config import RunnerConfig
from codex_runner.logs.raw import RawLayer
from codex_runner.runner_home.team_home import team_memory
from codex_runner.service.coauthors import Coauthors
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService

log = logging.getLogger(__name__)


class SlackBridge:
    """One Codex session per Slack thread. Off (start/stop do nothing) without tokens."""

    def __init__(
        self,
        config: RunnerConfig,
        service: TaskService,
        daemon_url: str,
        *,
        stop_timeout_s: float = 5.0,
        raw_events: RawLayer | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.settings: BridgeSettings | None = resolve_settings(config)
        self._raw_events = raw_events  # the raw slack-events log layer, when switched on
        # [notify] slack_channel: where tasks not from Slack are told finished (on the bus).
        self._bus = bus
        self._notify_channel = config.notify.slack_channel
        self._team = (config.home, config.auth.team_home)  # its AGENT.md starts each session
        self._finished: FinishedTasks | None = None
        self._service = service
        self._daemon_url = daemon_url
        self._stop_timeout_s = stop_timeout_s
        self._connected = asyncio.Event()
        self._core: ChatCore | None = None
        self._inbound: Inbound | None = None
        self._handler: AsyncSocketModeHandler | None = None
        self._connector: asyncio.Task[None] | None = None
        self._names: DisplayNames | None = None
        self._keys = HelperKeys()
        self.conversations: Conversations | None = None
        self.helpers: AgentHelpers | None = None

    @property
    def enabled(self) -> bool:
        return self.settings is not None

    @property
    def connected(self) -> bool:
        """Socket Mode connected and the bot known (``/metrics`` reports it)."""
        return self._connected.is_set()

    async def wait_relay_idle(self, timeout: float) -> None:
        """Until no session's task events are being relayed (settled ones are not)."""
        if self._core is not None:
            await self._core.relay.wait_idle(timeout)

    def queued_messages(self) -> int:
        """Slack messages waiting for their thread's turn to end (0 when not running)."""
        return self._core.db.queued_count() if self._core is not None else 0

    @property
    def outbox(self) -> Outbox | None:
        return self._core.outbox if self._core is not None else None

    async def start(self) -> None:
        settings = self.settings
        if settings is None:
            log.info("Slack bridge off: SLACK_APP_TOKEN and SLACK_BOT_TOKEN are not both set")
            return
        client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url)
        api = CoauthorSlackApi(client)
        coauthors = CoauthorPrompt(Coauthors(self._service.store), api)  # docs/coauthors.md
        task_log = slack_task_log(self._service.record_event)
        names = self._names = DisplayNames(api)
        host = SlackHost(settings, names)
        core = self._core = ChatCore(
            db_path=settings.db_path,
            service=self._service,
            task_log=task_log,
            transport=SlackTransport(api),
            render=SlackRenderer(),
            host=host,
            approvers=settings.approvers,
            retry_base_s=settings.retry_base_s,
            retry_max_s=settings.retry_max_s,
            team_memory=lambda: team_memory(*self._team),
        )
        db = core.db
        conversations = self.conversations = Conversations(
            settings=settings,
            db=db,
            api=api,
            sessions=core.sessions,
            host=host,
            names=names,
            issue_credentials=self._issue_credentials,
            asked=coauthors.asked,
        )
        self.helpers = AgentHelpers(
            db=db,
            api=api,
            names=names,
            conversations=conversations,
            keys=self._keys,
            task_log=task_log,
            sessions_dir=settings.sessions_dir,
        )
        self._inbound = Inbound(conversations)
        await core.start(on_session=self._issue_credentials)
        if self._bus is not None and self._notify_channel:
            self._finished = FinishedTasks(
                self._service, self._bus, db, core.outbox, self._notify_channel
            )
            self._finished.start()
        app = build_app(client, self._inbound, conversations, self._raw_events)
        register(app, coauthors)
        self._handler = AsyncSocketModeHandler(app, settings.app_token)
        self._connector = asyncio.create_task(self._connect(api), name="slack-connect")

    def session_for(self, channel: str, thread_ts: str) -> Session | None:
        """The session of a Slack thread, if there is one."""
        if self._core is None:
            return None
        return self._core.db.session(session_key(channel, thread_ts))

    async def follow_task(self, task_id: str) -> None:
        """Relay ``task_id``'s new turn to its thread (ChatCore.follow_task); nothing while
        the bridge is off."""
        if self._core is not None:
            await self._core.follow_task(task_id)

    async def wait_connected(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def stop(self) -> None:
        """Disconnect and stop every loop, each wait bounded by ``stop_timeout_s``."""
        if self._core is None:
            return
        timeout = self._stop_timeout_s
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._connector, timeout)
        if self._handler is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_untyped(self._handler).close_async(), timeout)
        if self._inbound is not None:
            await self._inbound.stop(timeout)
        if self._finished is not None:
            await self._finished.stop(timeout)
            self._finished = None
        await self._core.stop(timeout)
        self._core = None
        self.helpers = None
        self._connected.clear()

    async def _connect(self, api: WebSlackApi) -> None:
        assert self.settings is not None and self._handler is not None
        assert self.conversations is not None and self._inbound is not None
        delay = self.settings.retry_base_s
        while True:
            try:
                identity = await api.auth_test()
                break
            except SlackRejected as exc:
                log.error("Slack bridge off: the bot token was refused (%s)", exc)
                return
            except SlackUnavailable as exc:
                log.warning("Slack unavailable (%s); connecting again in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.settings.retry_max_s, delay * 2)
        self.conversations.bot_user_id = identity.user_id
        self._inbound.start()
        await _untyped(self._handler).connect_async()
        self._connected.set()
        log.info("Slack bridge connected as %s", identity.user_id)

    def _issue_credentials(self, session: Session) -> None:
        assert self.settings is not None
        helper_key = new_helper_key()
        SessionFiles.of(self.settings.sessions_dir, session.key).write_credentials(
            daemon_url=self._daemon_url,
            helper_key=helper_key,
            channel=session.channel,
            thread_ts=session.thread,
        )
        self._keys.issue(session.key, helper_key)


def _untyped(handler: AsyncSocketModeHandler) -> Any:
    """slack_bolt leaves connect_async/close_async without annotations."""
    return handler
