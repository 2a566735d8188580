"""The exit statuses of ``codex-runner`` commands, so scripts can tell the endings apart.

Following a task (``task submit --follow``, ``task logs --follow``) ends in exactly one of
these; the other commands use ``OK``, ``FAILED`` and ``USAGE``. README.md lists them.
"""

from __future__ import annotations

from typing import Final

OK: Final = 0
# The task failed or was cancelled; or the command itself failed (the daemon refused it,
# could not be reached, or answered an error).
FAILED: Final = 1
# Bad input: an unknown option, a value the API contract refuses, a bad spec file.
USAGE: Final = 2
# The task was interrupted (from elsewhere, by an expired approval, by a daemon restart):
# it waits for someone to resume it.
INTERRUPTED: Final = 3
# The task waits for an approval and --no-wait-approval was given.
AWAITING_APPROVAL: Final = 4
# The daemon went away while following (the connection closed and did not come back): the
# task's fate is unknown to this command.
DAEMON_LOST: Final = 5
# The user stopped following with Ctrl-C; the task goes on.
STOPPED_BY_USER: Final = 130
