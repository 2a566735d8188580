"""A git failure's message advises what helps: a longer timeout only for a timeout."""

from __future__ import annotations

from codex_runner.workspace.protocol import GitFailed


def test_a_failed_git_command_does_not_advise_a_longer_timeout() -> None:
    error = GitFailed(["worktree", "add"], 128, "fatal: could not create leading directories")
    assert "exit code 128" in str(error)
    assert "could not create leading directories" in str(error)
    assert "timeout" not in str(error)


def test_a_git_command_that_timed_out_advises_the_timeout() -> None:
    error = GitFailed(["fetch"], None, "no answer within 60s")
    assert "timed out" in str(error) and "git timeout" in str(error)
