"""The one transient line at the bottom of a terminal: a spinner saying what runs now.

It shows the command Codex is running while it runs, else what the caller is waiting for
(or nothing). It is drawn only on a terminal: on a pipe nothing is drawn, and the plain
lines printed above it are the whole output. Text streamed without a line end pauses it,
since a spinner redrawn below a half-written line would tear that line apart.
"""

from __future__ import annotations

from rich.console import Console
from rich.status import Status
from rich.text import Text


class StatusLine:
    """A spinner with the current command (or ``idle`` text), on a terminal only (or
    never, with ``drawn=False``)."""

    def __init__(
        self, console: Console, idle: str | None = None, *, drawn: bool | None = None
    ) -> None:
        self._console = console
        self._drawn = console.is_terminal if drawn is None else drawn
        self._idle = idle
        self._command: str | None = None
        self._paused = False
        self._closed = False
        self._status: Status | None = None

    @property
    def shown(self) -> str | None:
        """What the spinner says now; None when nothing is drawn (a pipe, paused, idle)."""
        if not self._drawn or self._paused or self._closed:
            return None
        return self.text

    @property
    def text(self) -> str | None:
        """What the spinner says when it is drawn."""
        if self._command is not None:
            return f"running $ {self._command}"
        return self._idle

    def set_idle(self, text: str | None) -> None:
        """What to say while no command runs."""
        self._idle = text
        self._redraw()

    def set_command(self, command: str | None) -> None:
        """The command Codex is running now (None: it finished)."""
        self._command = command
        self._redraw()

    def pause(self) -> None:
        """Take the spinner off the screen until :meth:`resume`."""
        self._paused = True
        self._redraw()

    def resume(self) -> None:
        self._paused = False
        self._redraw()

    def close(self) -> None:
        """Take the spinner off the screen for good (idempotent)."""
        self._closed = True
        self._redraw()

    def _redraw(self) -> None:
        text = self.shown
        if text is None:
            if self._status is not None:
                self._status.stop()
                self._status = None
            return
        # Text, not markup: a command may hold brackets.
        if self._status is None:
            self._status = self._console.status(Text(text))
            self._status.start()
        else:
            self._status.update(Text(text))
