"""Free space on a file system: the disk policy's one I/O boundary, so a test can make the
disk look full (:class:`DiskOfSize`) without filling one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from codex_runner.service.metrics_disk import measure


class FreeSpace(Protocol):
    def free_bytes(self, path: Path) -> int:
        """Bytes free for an unprivileged writer on the file system holding ``path``."""


class FileSystemSpace:
    """The real file system's free space (``statvfs``)."""

    def free_bytes(self, path: Path) -> int:
        # The home may not exist yet on a first start: ask the nearest existing parent.
        probe = path
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        return shutil.disk_usage(probe).free


class DiskOfSize:
    """A pretend disk of ``size_bytes`` holding only what is under ``root``: free space is
    the size less what the files take, so removing files frees space as on a real disk.
    The test double of :class:`FreeSpace`, shipped with the package."""

    def __init__(self, root: Path, size_bytes: int) -> None:
        self.root = root
        self.size_bytes = size_bytes

    def free_bytes(self, path: Path) -> int:
        return max(0, self.size_bytes - measure(self.root).bytes)
