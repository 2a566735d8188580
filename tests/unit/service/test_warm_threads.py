import pytest

from codex_runner.service.warm_threads import WarmThreads


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_thread_is_warm_until_a_turn_takes_it() -> None:
    warm = WarmThreads(4, 300, clock=FakeClock())
    assert warm.keep("t1") == []
    assert "t1" in warm
    assert warm.take("t1") is True
    assert "t1" not in warm
    assert warm.take("t1") is False


def test_the_least_recently_used_thread_leaves_past_the_count_bound() -> None:
    clock = FakeClock()
    warm = WarmThreads(2, 300, clock=clock)
    warm.keep("a")
    warm.keep("b")
    warm.keep("a")  # used again: now the most recent
    assert warm.keep("c") == ["b"]
    assert len(warm) == 2
    assert "a" in warm and "c" in warm


def test_the_bound_holds_under_three_times_its_size_of_threads() -> None:
    warm = WarmThreads(2, 300, clock=FakeClock())
    released = [t for i in range(6) for t in warm.keep(f"t{i}")]
    assert released == ["t0", "t1", "t2", "t3"]
    assert len(warm) == 2


def test_a_limit_of_zero_releases_every_thread_as_its_turn_ends() -> None:
    warm = WarmThreads(0, 300, clock=FakeClock())
    assert warm.keep("t1") == ["t1"]
    assert len(warm) == 0


def test_threads_idle_past_the_window_expire_and_the_others_stay() -> None:
    clock = FakeClock()
    warm = WarmThreads(8, 300, clock=clock)
    warm.keep("old")
    clock.now += 200
    warm.keep("new")
    assert warm.next_expiry_in() == pytest.approx(100)
    clock.now += 99
    assert warm.expired() == []
    clock.now += 1
    assert warm.expired() == ["old"]
    assert "new" in warm
    assert warm.next_expiry_in() == pytest.approx(200)


def test_drop_and_drain_say_which_threads_must_be_released() -> None:
    warm = WarmThreads(8, 300, clock=FakeClock())
    warm.keep("a")
    warm.keep("b")
    assert warm.drop("a") is True
    assert warm.drop("zzz") is False
    assert warm.drain() == ["b"]
    assert warm.next_expiry_in() is None


def test_negative_bounds_are_refused_with_the_bound_named() -> None:
    with pytest.raises(ValueError, match="limit"):
        WarmThreads(-1, 300, clock=FakeClock())
    with pytest.raises(ValueError, match="idle"):
        WarmThreads(1, -1, clock=FakeClock())
