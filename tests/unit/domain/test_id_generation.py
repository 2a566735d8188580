"""Ids are short, URL-safe, prefixed, and sort by creation time."""

from __future__ import annotations

import itertools
import re
import threading
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from codex_runner.domain import ids

ID_RE = re.compile(r"^[tga]_[0-9a-hjkmnp-tv-z]{26}$")


def created_at(value: str) -> datetime:
    """The creation time an id encodes: its body's first 48 bits, in milliseconds."""
    body = value.rpartition("_")[2]
    number = 0
    for c in body:
        number = number * 32 + ids.ALPHABET.index(c)
    return datetime.fromtimestamp((number >> 80) / 1000, tz=UTC)


def test_default_ids_have_their_prefix_and_are_url_safe() -> None:
    generator = ids.IdGenerator()
    for make, prefix in (
        (generator.task_id, "t_"),
        (generator.graph_id, "g_"),
        (generator.approval_id, "a_"),
    ):
        value = make()
        assert value.startswith(prefix) and ID_RE.match(value)
        assert ids.is_id(value, prefix)
    assert not ids.is_id("t_../../etc", "t_")
    assert not ids.is_id(generator.task_id(), "g_")


def test_ids_from_one_generator_strictly_increase_within_one_millisecond() -> None:
    generator = ids.IdGenerator(clock_ms=lambda: 1_700_000_000_000, random_bits=lambda: 5)
    made = [generator.task_id() for _ in range(100)]
    assert made == sorted(made) and len(set(made)) == 100


def test_later_milliseconds_sort_later_whatever_the_random_part() -> None:
    clock = iter([1000, 1001])
    randoms = iter([(1 << 80) - 1, 0])
    generator = ids.IdGenerator(clock_ms=lambda: next(clock), random_bits=lambda: next(randoms))
    first, second = generator.task_id(), generator.task_id()
    assert first < second


def test_a_clock_stepping_back_does_not_break_the_order() -> None:
    clock = iter([5000, 4000, 4500, 6000])
    generator = ids.IdGenerator(clock_ms=lambda: next(clock), random_bits=lambda: 7)
    made = [generator.task_id() for _ in range(4)]
    assert made == sorted(made)


def test_counting_past_the_random_space_moves_to_the_next_millisecond() -> None:
    generator = ids.IdGenerator(clock_ms=lambda: 10, random_bits=lambda: (1 << 80) - 1)
    first, second = generator.task_id(), generator.task_id()
    assert first < second
    assert created_at(second) > created_at(first)


def test_an_id_encodes_its_creation_time() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    generator = ids.IdGenerator(clock_ms=lambda: int(moment.timestamp() * 1000))
    assert created_at(generator.graph_id()) == moment


def test_a_shared_generator_is_safe_across_threads() -> None:
    generator = ids.IdGenerator()
    made: list[str] = []

    def work() -> None:
        batch = [generator.task_id() for _ in range(500)]
        made.extend(batch)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(set(made)) == 2000


@given(st.lists(st.integers(0, 2**40), min_size=1, max_size=50))
def test_ids_strictly_increase_for_any_clock(clock_values: list[int]) -> None:
    clock = iter(clock_values)
    generator = ids.IdGenerator(clock_ms=lambda: next(clock))
    made = [generator.task_id() for _ in clock_values]
    assert all(a < b for a, b in itertools.pairwise(made))
