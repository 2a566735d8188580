"""``codex-runner slack check``: are the tokens valid, and what scopes are missing?"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from codex_runner.bridges.slack.api import SlackRejected, SlackUnavailable, WebSlackApi
from codex_runner.bridges.slack.settings import BOT_SCOPES, ESSENTIAL_SCOPES


@dataclass
class CheckReport:
    ok_lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_slack(app_token: str | None, bot_token: str | None, api_url: str) -> CheckReport:
    """Call ``auth.test`` with the bot token and ``apps.connections.open`` with the app token."""
    report = CheckReport()
    if not bot_token:
        report.problems.append("no bot token: set SLACK_BOT_TOKEN or [slack] bot_token (xoxb-...)")
    if not app_token:
        report.problems.append(
            "no app token: set SLACK_APP_TOKEN or [slack] app_token (xapp-..., with the "
            "connections:write scope, from the app's Basic Information page)"
        )
    if bot_token:
        if not bot_token.startswith("xoxb-"):
            report.warnings.append("the bot token does not start with xoxb-; is it a bot token?")
        await _check_bot(report, WebSlackApi(AsyncWebClient(token=bot_token, base_url=api_url)))
    if app_token:
        if not app_token.startswith("xapp-"):
            report.warnings.append("the app token does not start with xapp-; is it an app token?")
        client = AsyncWebClient(base_url=api_url)
        try:
            await client.apps_connections_open(app_token=app_token)
            report.ok_lines.append("app token: Socket Mode connections can be opened")
        except Exception as exc:  # any failure here means Socket Mode will not connect
            error = getattr(getattr(exc, "response", None), "get", lambda _k: None)("error")
            report.problems.append(
                f"app token: apps.connections.open failed ({error or exc}); enable Socket Mode "
                "and give the app-level token the connections:write scope"
            )
    return report


async def _check_bot(report: CheckReport, api: WebSlackApi) -> None:
    try:
        identity = await api.auth_test()
    except SlackRejected as exc:
        report.problems.append(f"bot token refused: {exc.error}")
        return
    except SlackUnavailable as exc:
        report.problems.append(f"Slack unreachable: {exc}")
        return
    report.ok_lines.append(
        f"bot token: valid, bot user {identity.user_id} in team {identity.team_id}"
    )
    if identity.scopes is None:
        report.warnings.append("Slack did not list the token's scopes; cannot check them")
        return
    for scope, purpose in BOT_SCOPES.items():
        if scope in identity.scopes:
            continue
        line = f"missing scope {scope} (needed to {purpose})"
        (report.problems if scope in ESSENTIAL_SCOPES else report.warnings).append(line)
    if all(s in identity.scopes for s in BOT_SCOPES):
        report.ok_lines.append("bot token: every scope the bridge uses is granted")
