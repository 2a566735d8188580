"""``task turns``: the table fits the terminal, the long Codex turn id goes first."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.cells import cell_len
from rich.console import Console

from codex_runner.cli.turns_cmd import print_turns, took
from codex_runner.domain.conversation import Turn, TurnState
from codex_runner.domain.events import TokenUsage
from codex_runner.http.wire_turns import TurnList

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
UUID = "019a7b2c-1d3e-7f40-8a5b-6c7d8e9f0a1b"


def _listing() -> TurnList:
    first = Turn(
        "t_1",
        1,
        "fix the failing test in the parser and explain " * 5,
        T0,
        state=TurnState.COMPLETED,
        codex_turn_id=UUID,
        finished_at=T0 + timedelta(seconds=75),
        usage=TokenUsage(total_tokens=1234),
        final_message="Fixed: the parser now accepts trailing commas. " * 4,
    )
    second = Turn("t_1", 2, "and the docs", T0 + timedelta(minutes=5), codex_turn_id=UUID[::-1])
    return TurnList.of("t_1", [first, second])


def _render(width: int) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, color_system=None)
    print_turns(console, _listing())
    return buffer.getvalue().splitlines()


def test_on_80_columns_the_turn_id_is_dropped_and_every_line_fits() -> None:
    lines = _render(80)
    assert all(cell_len(line) <= 80 for line in lines)
    assert "TURN ID" not in lines[0] and UUID not in "".join(lines)
    assert lines[1].split()[:4] == ["1", "completed", "1m15s", "1234"]
    assert lines[2].split()[:2] == ["2", "running"]


def test_a_wide_terminal_shows_the_turn_id_in_full() -> None:
    lines = _render(200)
    assert "TURN ID" in lines[0] and lines[1].rstrip().endswith(UUID)


def test_the_current_turn_is_the_last_one() -> None:
    assert _listing().current_turn_id == UUID[::-1]
    assert TurnList.of("t_1", []).current_turn_id is None


def test_took_reads_as_seconds_minutes_or_hours() -> None:
    assert took(T0, None) == ""
    assert took(T0, T0 + timedelta(seconds=9)) == "9s"
    assert took(T0, T0 + timedelta(seconds=3599)) == "59m59s"
    assert took(T0, T0 + timedelta(hours=2, minutes=3)) == "2h03m"
