"""Threads on the app-server: what the runtime remembers of each, and how they are opened.

``thread/start`` and ``thread/resume`` take the same settings (cwd, sandbox, approval policy,
model); a resume tells a lost thread (to be replaced) from one that is still closing (to be
retried) by Codex's message.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from codex_runner.codex.app_server_turn import TurnChannel
from codex_runner.codex.errors import (
    LOST_THREAD_MESSAGE,
    THREAD_CLOSING_MESSAGE,
    RpcError,
    ThreadLost,
)
from codex_runner.codex.runtime import ThreadOptions, TurnOptions
from codex_runner.config import CodexSettings
from codex_runner.domain.events import CodexEvent

# A thread released a moment ago may still be closing when its next turn resumes it; Codex
# says so and asks for a retry. Closing takes milliseconds; past this, the error stands.
RESUME_WHILE_CLOSING_S = 10.0
RESUME_RETRY_S = 0.02

# What Codex says to a turn/start on a thread it does not have loaded.
THREAD_NOT_LOADED_MESSAGE = re.compile(r"thread not found", re.I)


@dataclass
class ThreadState:
    options: ThreadOptions
    generation: int  # process generation the thread is loaded in
    notice: CodexEvent | None = None  # delivered as the first event of the next turn
    context: str | None = None  # earlier context to prepend to the next turn's input
    # The thread's own model and effort as Codex reported them when it was opened: what a
    # turn after an overriding one puts back when neither the task nor the config names one.
    opened_with: dict[str, Any] = field(default_factory=dict)
    # turn/start fields the last turn overrode: the next turn sets them back.
    overridden: frozenset[str] = frozenset()


def thread_params(
    settings: CodexSettings, options: ThreadOptions, *, starting: bool = True
) -> dict[str, Any]:
    """The settings ``thread/start`` (``starting``) and ``thread/resume`` take: the options,
    else defaults."""
    params: dict[str, Any] = {"cwd": str(options.cwd)}
    params["sandbox"] = options.sandbox or settings.sandbox
    params["approvalPolicy"] = options.approval_policy or settings.approval_policy
    if model := options.model or settings.model:
        params["model"] = model
    for key, value in (
        ("developerInstructions", options.developer_instructions),
        ("baseInstructions", options.base_instructions),
        ("personality", options.personality),
        ("serviceTier", options.service_tier),
        ("modelProvider", options.model_provider),
    ):
        if value:
            params[key] = value
    if options.config:
        params["config"] = dict(options.config)
    if starting and options.ephemeral:
        params["ephemeral"] = True  # resume has no such field: the thread already is or not
    return params


def opened_with(result: Any) -> dict[str, Any]:
    """What a thread/start or thread/resume response says the thread runs with."""
    if not isinstance(result, dict):
        return {}
    return {k: result[k] for k in ("model", "reasoningEffort") if result.get(k)}


# A sandbox mode (config and thread/start spelling) as the SandboxPolicy turn/start takes.
SANDBOX_POLICIES: dict[str, dict[str, Any]] = {
    "read-only": {"type": "readOnly"},
    "workspace-write": {"type": "workspaceWrite"},
    "danger-full-access": {"type": "dangerFullAccess"},
}


def turn_params(
    settings: CodexSettings, state: ThreadState, options: TurnOptions | None
) -> dict[str, Any]:
    """The settings fields of one ``turn/start``: this turn's overrides, and the thread's own
    for each field the turn before overrode (Codex keeps an override for later turns)."""
    thread = state.options
    own: dict[str, Any] = {
        "model": thread.model or settings.model or state.opened_with.get("model"),
        "effort": thread.effort or settings.effort or state.opened_with.get("reasoningEffort"),
        "sandboxPolicy": SANDBOX_POLICIES.get(thread.sandbox or settings.sandbox),
        "approvalPolicy": thread.approval_policy or settings.approval_policy,
        "cwd": str(thread.cwd),
        "summary": "auto",  # Codex's default; no thread setting names another
    }
    params: dict[str, Any] = {}
    if own["effort"] and (thread.effort or settings.effort):
        params["effort"] = own["effort"]  # as before overrides existed: every turn says it
    wanted: dict[str, Any] = {}
    if options is not None:
        wanted = {
            "model": options.model,
            "effort": options.effort,
            "summary": options.summary,
            "sandboxPolicy": SANDBOX_POLICIES.get(options.sandbox or ""),
            "approvalPolicy": options.approval_policy,
            "cwd": str(options.cwd) if options.cwd is not None else None,
        }
        wanted = {k: v for k, v in wanted.items() if v is not None}
    for key in state.overridden - wanted.keys():
        if own.get(key) is not None:
            params[key] = own[key]
    params.update(wanted)
    state.overridden = frozenset(wanted)
    if options is not None and options.output_schema is not None:
        params["outputSchema"] = dict(options.output_schema)  # Codex applies it to one turn
    return params


async def resume_on(channel: TurnChannel, thread_id: str, params: dict[str, Any]) -> Any:
    """``thread/resume``, retried while Codex still closes the thread; ThreadLost when Codex
    cannot load it (rollout missing or empty). Returns Codex's response."""
    request = {"threadId": thread_id, **params, "excludeTurns": True}
    deadline = time.monotonic() + RESUME_WHILE_CLOSING_S
    while True:
        try:
            return await channel.request("thread/resume", request)
        except RpcError as exc:
            if LOST_THREAD_MESSAGE.search(exc.rpc_message):
                raise ThreadLost(exc.rpc_message) from None
            if not THREAD_CLOSING_MESSAGE.search(exc.rpc_message):
                raise
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(RESUME_RETRY_S)


async def start_turn_on(
    channel: TurnChannel, params: dict[str, Any], settings: CodexSettings, options: ThreadOptions
) -> Any:
    """``turn/start``; when Codex no longer has the thread loaded, resume it and start again.

    Unsubscribing from a thread makes Codex unload it in the background. A resume that comes
    in before that unload begins is answered from the still-loaded thread, and the unload
    then removes it, so the turn/start right after finds no thread. Resuming again loads it
    from its rollout. Returns Codex's response.
    """
    try:
        return await channel.request("turn/start", params)
    except RpcError as exc:
        if not THREAD_NOT_LOADED_MESSAGE.search(exc.rpc_message):
            raise
    await resume_on(
        channel, str(params["threadId"]), thread_params(settings, options, starting=False)
    )
    return await channel.request("turn/start", params)
