"""Items printed while they stream: the agent's answer as it grows, a command's output as
it comes, from live deltas.

Deltas are never stored and a follow may join (or reconnect) in the middle of an item, so
what was printed is remembered per item: when the item completes, only what was not printed
yet is printed, and an answer printed from its beginning is never printed a second time.
"""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console
from rich.text import Text

from codex_runner.cli.status_line import StatusLine
from codex_runner.domain.delta import Delta, DeltaKind

ANSWER_PREFIX = Text("codex: ", style="bold blue")
OUTPUT_INDENT = "  "
# Control characters but line ends and tabs: model text and command output must not move the
# cursor, clear the screen or recolour the terminal (rich keeps escape sequences in Text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without the control characters a terminal would obey."""
    return _CONTROL.sub("", text)


class StreamedItems:
    """What this terminal showed of items still streaming, and the printing of the rest."""

    def __init__(self, console: Console, status: StatusLine) -> None:
        self._console = console
        self._status = status
        self._answers: dict[str, str] = {}  # answer item -> its text printed so far
        self._outputs: dict[str, str] = {}  # command item -> its output received so far
        self._held: dict[str, str] = {}  # command item -> its last line, not ended yet
        self._open: str | None = None  # the answer whose line is still open

    def add(self, delta: Delta) -> None:
        """Print a delta: answer text as it grows, command output a whole line at a time.
        Reasoning, plan and diff deltas wait for their completed items."""
        if not delta.text:
            return
        if delta.kind is DeltaKind.AGENT_MESSAGE:
            self._open_answer(delta.item_id)
            self._write(delta.text)
            self._answers[delta.item_id] = self._answers.get(delta.item_id, "") + delta.text
        elif delta.kind is DeltaKind.COMMAND_OUTPUT:
            self.break_line()
            self._outputs[delta.item_id] = self._outputs.get(delta.item_id, "") + delta.text
            *lines, rest = (self._held.get(delta.item_id, "") + delta.text).split("\n")
            self._held[delta.item_id] = rest
            for line in lines:
                self._output_line(line)

    def break_line(self) -> None:
        """End an answer's line left open, before anything else is printed."""
        if self._open is not None:
            self._console.print()
            self._open = None
            self._status.resume()

    def finish_answer(self, item_id: str, text: str) -> bool:
        """The answer ``item_id`` completed with ``text``: print what was not printed yet
        and end its line. False when this terminal did not print its beginning (it joined
        later, or printed none of it): the caller prints the answer whole."""
        printed = self._answers.pop(item_id, None)
        if printed is None or not text.startswith(printed):
            self.break_line()
            return False
        rest = text[len(printed) :]
        if rest:
            self._open_answer(item_id)
            self._write(rest)
        if self._open == item_id:
            self.break_line()
        return True

    def finish_output(self, item_id: str, output: str) -> list[str] | None:
        """The command ``item_id`` completed with ``output``: the lines of it not printed
        yet, the one left unfinished among them; None when none of its output streamed here
        (the caller shows the output as usual)."""
        streamed = self._outputs.pop(item_id, None)
        held = self._held.pop(item_id, "")
        if streamed is None:
            return None
        if output.startswith(streamed):
            return (held + output[len(streamed) :]).splitlines()
        if held:
            self._output_line(held)
        # Codex's completed output need not extend what it streamed (its exec tool returns
        # the first moments' output with the item): the lines not printed yet, in order.
        seen = Counter(streamed.splitlines())
        unseen = []
        for line in output.splitlines():
            if seen[line] > 0:
                seen[line] -= 1
            else:
                unseen.append(line)
        return unseen

    def forget(self) -> None:
        """A turn ended: end any open line; nothing it left streaming will complete."""
        self.break_line()
        for held in self._held.values():
            if held:
                self._output_line(held)
        self._answers.clear()
        self._outputs.clear()
        self._held.clear()

    def _open_answer(self, item_id: str) -> None:
        if self._open == item_id:
            return
        self.break_line()
        self._status.pause()  # a spinner below a half-written line would tear it
        self._console.print(ANSWER_PREFIX, end="")
        self._open = item_id

    def _write(self, text: str) -> None:
        self._console.print(Text(printable(text)), end="", soft_wrap=True)

    def _output_line(self, line: str) -> None:
        self._console.print(Text(OUTPUT_INDENT + printable(line), style="dim"), soft_wrap=True)
