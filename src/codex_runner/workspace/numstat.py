"""Reading ``git diff --numstat -z``: which files a diff touches and by how many lines."""

from __future__ import annotations

import os

from codex_runner.workspace.protocol import FileStat


def parse_numstat(raw: bytes) -> list[FileStat]:
    """Parse ``git diff --numstat -z``: ``ins\\tdel\\tpath\\0`` or, for a rename,
    ``ins\\tdel\\t\\0old\\0new\\0``; binary files show ``-`` for both counts."""
    fields = raw.split(b"\0")
    stats: list[FileStat] = []
    i = 0
    while i < len(fields) and fields[i]:
        ins, dels, path = fields[i].split(b"\t", 2)
        old: str | None = None
        if path:
            name = os.fsdecode(path)
            i += 1
        else:
            old, name = os.fsdecode(fields[i + 1]), os.fsdecode(fields[i + 2])
            i += 3
        binary = ins == b"-"
        stats.append(
            FileStat(
                path=name,
                insertions=0 if binary else int(ins),
                deletions=0 if binary else int(dels),
                binary=binary,
                old_path=old,
            )
        )
    return stats
