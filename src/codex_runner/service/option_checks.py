"""Checks on a task's options and a turn's overrides, where they enter (submit, message,
resume): each error names its field, and an option the task's runtime cannot honour is
refused here rather than dropped when the turn runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from codex_runner.config.notify import NotifySettings
from codex_runner.domain.model_names import resolve_model
from codex_runner.domain.task import RuntimeSettings
from codex_runner.domain.task_options import (
    PERSONALITIES,
    REASONING_SUMMARIES,
    RUNTIME_KINDS,
    SERVICE_TIERS,
    InvalidOption,
    SessionOptions,
    TaskOptions,
    TurnOverrides,
    check_choice,
    check_config,
    check_instructions,
    check_metadata,
    check_model_provider,
    check_output_schema,
    check_purpose,
    check_turn_cwd,
)
from codex_runner.service.errors import InvalidRequest
from codex_runner.service.notify_targets import NotifyTargets
from codex_runner.service.structured_results import check_schema
from codex_runner.service.validation import check_effort, check_model


class OptionRules:
    """What this daemon allows: its model aliases, the Codex config keys it lets a task set
    beyond the safe list, and its default runtime (which a task without one runs on)."""

    def __init__(
        self,
        *,
        aliases: Mapping[str, str] | None = None,
        config_keys: frozenset[str] = frozenset(),
        default_runtime: str = "app-server",
        notify: NotifyTargets | None = None,
    ) -> None:
        self.notify = notify or NotifyTargets(NotifySettings())
        self.aliases = dict(aliases or {})
        self.config_keys = config_keys
        self.default_runtime = default_runtime

    def task_options(self, options: TaskOptions, settings: RuntimeSettings) -> TaskOptions:
        """``options`` checked and normalised; InvalidRequest names the first bad field."""
        try:
            session = self.session(options.session)
            checked = TaskOptions(
                session=session,
                purpose=check_purpose(options.purpose),
                metadata=check_metadata(options.metadata),
                turn=self.turn(options.turn),
            )
        except InvalidOption as exc:
            raise InvalidRequest(exc.field, str(exc)) from exc
        self.check_runtime_takes(session, settings, checked.turn)
        return checked

    def session(self, session: SessionOptions) -> SessionOptions:
        return SessionOptions(
            developer_instructions=check_instructions(
                "developer_instructions", session.developer_instructions
            ),
            base_instructions=check_instructions("base_instructions", session.base_instructions),
            personality=check_choice("personality", session.personality, PERSONALITIES),
            service_tier=check_choice("service_tier", session.service_tier, SERVICE_TIERS),
            model_provider=check_model_provider(session.model_provider),
            config=check_config(session.config, self.config_keys),
            ephemeral=_flag("ephemeral", session.ephemeral),
            runtime=check_choice("runtime", session.runtime, RUNTIME_KINDS),
            notify=self.notify.check(session.notify),
        )

    def turn(self, overrides: TurnOverrides) -> TurnOverrides:
        """One turn's overrides checked (a model alias resolved); raises InvalidOption."""
        try:
            check_model(overrides.model)
            check_effort(overrides.effort)
        except InvalidRequest as exc:
            raise InvalidOption(exc.field, str(exc)) from exc
        schema = check_output_schema(overrides.output_schema)
        if schema is not None:
            try:
                check_schema(schema)
            except InvalidRequest as exc:
                raise InvalidOption(exc.field, str(exc)) from exc
        return replace(
            overrides,
            model=resolve_model(overrides.model, self.aliases),
            summary=check_choice("summary", overrides.summary, REASONING_SUMMARIES),
            cwd=check_turn_cwd(overrides.cwd),
            output_schema=schema,
        )

    def follow_up(
        self, overrides: TurnOverrides, session: SessionOptions, settings: RuntimeSettings
    ) -> TurnOverrides:
        """A follow-up's (or resume's) overrides, checked for the task they go to."""
        try:
            checked = self.turn(overrides)
        except InvalidOption as exc:
            raise InvalidRequest(exc.field, str(exc)) from exc
        self.check_runtime_takes(session, settings, checked)
        return checked

    def check_runtime_takes(
        self, session: SessionOptions, settings: RuntimeSettings, turn: TurnOverrides
    ) -> None:
        """Refuse what the task's runtime cannot do: codex exec cannot ask for approvals."""
        if (session.runtime or self.default_runtime) != "exec":
            return
        for field, policy in (
            ("approval_policy", turn.approval_policy),
            ("approval_policy", settings.approval_policy),
        ):
            if policy not in (None, "never"):
                raise InvalidRequest(
                    field,
                    f"approval_policy {policy!r} needs the app-server runtime: codex exec "
                    "cannot ask for approvals. Use runtime app-server, or approval_policy never",
                )


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidOption(name, f"{name} is true or false")
    return value
