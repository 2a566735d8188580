"""Which extra ``codex exec`` flags a runner may pass (``[codex.exec] extra_args``).

The runner builds ``codex exec`` itself: the sandbox, the approval policy, the working
directory, the JSON output and the thread to resume are its own, and a flag that changes
one of them would run Codex outside what the task says. So extra flags come from an
allow-list of flags that both ``codex exec`` and ``codex exec resume`` take (a task's
follow-up turns resume its thread, so a flag only the first turn took would be lost), and
``-c key=value`` for keys other than the sandbox and approval escape hatches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Flags with no value.
SWITCHES = frozenset({"--skip-git-repo-check", "--strict-config"})
# Flags followed by one value, each with the rule its value must follow.
FEATURE = re.compile(r"[a-z][a-z0-9_]{0,63}")
CONFIG_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
VALUED = ("-c", "--config", "--enable", "--disable")
# Config keys (first part of a dotted key) that would loosen the sandbox or approvals.
ESCAPE_HATCH_KEYS = frozenset(
    {
        "sandbox_mode",
        "sandbox_workspace_write",
        "sandbox_permissions",
        "approval_policy",
        "approvals_reviewer",
        "default_permissions",
        "permissions",
        "projects",  # a project's trust_level
    }
)
# Why the runner refuses a flag people reach for, and what to do instead.
REFUSED: dict[str, str] = {
    "--dangerously-bypass-approvals-and-sandbox": "it turns off the sandbox and approvals",
    "--dangerously-bypass-hook-trust": "it runs hooks nobody trusted",
    "--full-auto": "the sandbox and approval policy are the task's ([codex] sandbox)",
    "--approve-for-me": "the approval policy is the task's ([codex] approval_policy)",
    "-s": "the sandbox is the task's: set [codex] sandbox or the task's sandbox",
    "--sandbox": "the sandbox is the task's: set [codex] sandbox or the task's sandbox",
    "-a": "the approval policy is the task's ([codex] approval_policy)",
    "--ask-for-approval": "the approval policy is the task's ([codex] approval_policy)",
    "-C": "the working directory is the task's (its repo or cwd)",
    "--cd": "the working directory is the task's (its repo or cwd)",
    "--add-dir": "it makes more directories writable than the task's workspace",
    "--worktree": "the runner makes the task's worktree itself",
    "--json": "the runner always passes it",
    "-m": "the model is set by [codex] model or the task's model",
    "--model": "the model is set by [codex] model or the task's model",
    "-i": "images are the task's input",
    "--image": "images are the task's input",
    "-o": "the runner reads the final message from the JSON events",
    "--output-last-message": "the runner reads the final message from the JSON events",
    "--output-schema": "an output schema is the turn's option",
    "--ephemeral": "a task's next turn resumes its thread, which must be kept",
    "--ignore-user-config": "it drops the config the runner writes into its Codex home",
    "--oss": "`codex exec resume` (a task's next turn) does not take it; "
    "set model_provider with -c or in [codex.config]",
    "--local-provider": "`codex exec resume` (a task's next turn) does not take it; "
    "set the provider with -c or in [codex.config]",
    "-p": "`codex exec resume` (a task's next turn) does not take it; "
    "put that profile's settings in [codex.config]",
    "--profile": "`codex exec resume` (a task's next turn) does not take it; "
    "put that profile's settings in [codex.config]",
}
ALLOWED_HINT = (
    "allowed: --skip-git-repo-check, --strict-config, --enable FEATURE, --disable FEATURE, "
    "-c KEY=VALUE (not the sandbox or approval keys)"
)
MAX_ARGS = 64
MAX_ARG_CHARS = 4096


class ExecFlagRefused(ValueError):
    """An extra flag the runner does not pass to ``codex exec``; says why and what to do."""


def check_exec_extra_args(args: Sequence[str]) -> tuple[str, ...]:
    """``args`` split into flags and values (``--enable=x`` as ``--enable x``), checked
    against the allow-list; raises :class:`ExecFlagRefused` naming the first refused one."""
    if len(args) > MAX_ARGS:
        raise ExecFlagRefused(f"at most {MAX_ARGS} extra arguments, got {len(args)}")
    for arg in args:
        if not isinstance(arg, str) or not arg or len(arg) > MAX_ARG_CHARS:
            raise ExecFlagRefused(f"{arg!r} is not a flag; write one flag or value per string")
        if "\n" in arg or "\r" in arg or "\x00" in arg:
            raise ExecFlagRefused(f"{arg!r} holds a line break or NUL; remove it")
    checked: list[str] = []
    pending = list(args)
    while pending:
        arg = pending.pop(0)
        name, _, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in SWITCHES and not inline:
            checked.append(name)
        elif name in VALUED:
            value = inline or (pending.pop(0) if pending else None)
            if value is None:
                raise ExecFlagRefused(f"{name} needs a value after it")
            checked += [name, _checked_value(name, value)]
        elif name in REFUSED:
            raise ExecFlagRefused(f"{name} is not allowed: {REFUSED[name]}")
        elif not arg.startswith("-") or arg == "--":
            raise ExecFlagRefused(
                f"{arg!r} is not a flag: the runner passes the prompt and the thread to "
                f"resume itself; {ALLOWED_HINT}"
            )
        else:
            raise ExecFlagRefused(f"{name} is not on the allow-list; {ALLOWED_HINT}")
    return tuple(checked)


def _checked_value(flag: str, value: str) -> str:
    if flag in ("--enable", "--disable"):
        if not FEATURE.fullmatch(value):
            raise ExecFlagRefused(f"{flag} {value!r}: a feature name is like shell_snapshot")
        return value
    key, equals, _ = value.partition("=")
    key = key.strip()
    if not equals or not CONFIG_KEY.fullmatch(key):
        raise ExecFlagRefused(
            f"{flag} {value!r}: write KEY=VALUE, e.g. -c hide_agent_reasoning=true"
        )
    if key.split(".")[0] in ESCAPE_HATCH_KEYS:
        raise ExecFlagRefused(
            f"{flag} {key}=...: {key.split('.')[0]} is the sandbox or approval policy's, "
            "set by [codex] sandbox / approval_policy or the task's own"
        )
    return value
