"""Disk use per kind: the walk, its bound, and a measure that never makes a scrape wait."""

from __future__ import annotations

from pathlib import Path

from codex_runner.service.metrics_disk import DiskUsage, KindUsage, measure


def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one.txt").write_bytes(b"x" * 100)
    (root / "a" / "b" / "two.txt").write_bytes(b"y" * 23)
    (root / "link").symlink_to(root / "a")  # not followed


def test_a_walk_counts_bytes_and_files_without_following_links(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert measure(tmp_path) == KindUsage(123, 2)
    assert measure(tmp_path / "a" / "one.txt") == KindUsage(100, 1)
    assert measure(tmp_path / "missing") == KindUsage(0, 0)


def test_a_walk_stops_at_its_bound_and_says_so(tmp_path: Path) -> None:
    _tree(tmp_path)
    assert not measure(tmp_path, max_entries=2).complete


async def test_the_first_read_starts_a_measure_and_later_reads_get_it(tmp_path: Path) -> None:
    _tree(tmp_path)
    now = [0.0]
    disk = DiskUsage(
        {"logs": (tmp_path / "a",), "store": (tmp_path / "a" / "one.txt", tmp_path / "none")},
        refresh_s=60,
        clock=lambda: now[0],
    )
    assert disk.current() == {}  # nothing measured yet: the scrape does not wait
    await disk.wait_measured()
    assert disk.current() == {"logs": KindUsage(123, 2), "store": KindUsage(100, 1)}
    (tmp_path / "a" / "three.txt").write_bytes(b"z")
    assert disk.current()["logs"].files == 2  # still fresh: not measured again
    now[0] = 61.0
    disk.current()
    await disk.wait_measured()
    assert disk.current()["logs"] == KindUsage(124, 3)
    await disk.close()


async def test_fresh_walks_again_when_the_measure_is_older_and_waits_for_it(
    tmp_path: Path,
) -> None:
    _tree(tmp_path)
    now = [0.0]
    disk = DiskUsage({"logs": (tmp_path / "a",)}, refresh_s=300, clock=lambda: now[0])
    assert (await disk.fresh(10))["logs"] == KindUsage(123, 2)  # nothing yet: walks, waits
    (tmp_path / "a" / "three.txt").write_bytes(b"z")
    now[0] = 5.0
    assert (await disk.fresh(10))["logs"].files == 2  # young enough: kept
    now[0] = 11.0
    assert (await disk.fresh(10))["logs"] == KindUsage(124, 3)
    await disk.close()
