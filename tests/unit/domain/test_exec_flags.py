"""The allow-list of extra ``codex exec`` flags: what passes, and why the rest does not."""

from __future__ import annotations

import pytest

from codex_runner.domain.exec_flags import ExecFlagRefused, check_exec_extra_args


@pytest.mark.parametrize(
    ("args", "checked"),
    [
        ([], ()),
        (["--skip-git-repo-check"], ("--skip-git-repo-check",)),
        (["--strict-config"], ("--strict-config",)),
        (["-c", "hide_agent_reasoning=true"], ("-c", "hide_agent_reasoning=true")),
        (['--config=tui.theme="dark"'], ("--config", 'tui.theme="dark"')),
        (
            ["--enable", "web_search", "--disable=apps"],
            ("--enable", "web_search", "--disable", "apps"),
        ),
        (
            ["-c", 'model_providers.local.base_url="http://x"'],
            ("-c", 'model_providers.local.base_url="http://x"'),
        ),
    ],
)
def test_allowed_flags_pass_split_into_flag_and_value(
    args: list[str], checked: tuple[str, ...]
) -> None:
    assert check_exec_extra_args(args) == checked


@pytest.mark.parametrize(
    ("args", "named", "fix"),
    [
        (["--dangerously-bypass-approvals-and-sandbox"], "--dangerously-bypass", "sandbox"),
        (["--full-auto"], "--full-auto", "[codex] sandbox"),
        (["-s", "danger-full-access"], "-s", "[codex] sandbox"),
        (["--sandbox=read-only"], "--sandbox", "[codex] sandbox"),
        (["-a", "never"], "-a", "approval_policy"),
        (["--cd", "/"], "--cd", "repo or cwd"),
        (["--json"], "--json", "always passes it"),
        (["--oss"], "--oss", "exec resume"),
        (["--profile", "fast"], "--profile", "[codex.config]"),
        (["--add-dir", "/etc"], "--add-dir", "writable"),
        (["resume"], "'resume'", "allowed:"),
        (["--", "x"], "'--'", "allowed:"),
        (["some prompt"], "'some prompt'", "the prompt"),
        (["--search"], "--search", "allow-list"),
        (["-c", 'sandbox_mode="danger-full-access"'], "sandbox_mode", "[codex] sandbox"),
        (
            ["-c", "sandbox_workspace_write.network_access=true"],
            "sandbox_workspace_write",
            "sandbox",
        ),
        (['--config=approval_policy="never"'], "approval_policy", "approval_policy"),
        (["-c", 'projects."/".trust_level="trusted"'], "KEY=VALUE", "-c"),
        (["-c", 'projects.x.trust_level="trusted"'], "projects", "approval"),
        (["-c", "no_equals"], "KEY=VALUE", "hide_agent_reasoning"),
        (["-c"], "-c needs a value", ""),
        (["--enable", "Bad Name"], "--enable", "feature name"),
        (["-c", "a=b\nsandbox_mode=x"], "line break", "remove"),
    ],
)
def test_refused_flags_are_named_with_the_reason_and_the_fix(
    args: list[str], named: str, fix: str
) -> None:
    with pytest.raises(ExecFlagRefused) as caught:
        check_exec_extra_args(args)
    assert named in str(caught.value)
    assert fix in str(caught.value)


def test_the_number_of_extra_args_is_bounded() -> None:
    with pytest.raises(ExecFlagRefused, match="at most 64"):
        check_exec_extra_args(["--strict-config"] * 65)
