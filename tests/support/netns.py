"""A network namespace joined to this one by a veth pair: a process run in it (``prefix``)
reaches this namespace only through the link, which ``cut`` takes down (``ip link set
down``: packets are dropped, connections hang, as in a real partition) and ``restore``
brings back.

The pair is a private /30 between this machine and its own namespace; the servers a test
puts on its near address (:attr:`near_ip`) are reachable from nowhere else. Making one needs
root and iproute2: :func:`namespace_unavailable` says why not, for a skip.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

TIMEOUT_S = 10


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def namespace_unavailable() -> str | None:
    """Why no namespace can be made here (None when one can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's ip"
    return None


class LinkedNamespace:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.name = f"crt-{tag}"
        self._near, self._far = f"crn{tag}", f"crf{tag}"  # at most 15 characters
        block = secrets.randbelow(64 * 256) * 4  # a /30 in 10.213.0.0/16 (64 of 256 rows)
        base = f"10.{213}.{block // 256}.{block % 256}"
        stem, last = base.rsplit(".", 1)
        self.near_ip = f"{stem}.{int(last) + 1}"  # this namespace's end
        self.far_ip = f"{stem}.{int(last) + 2}"  # the namespace's end

    @property
    def prefix(self) -> list[str]:
        """Runs a command in the namespace (it execs it: the pid stays the command's)."""
        return ["ip", "netns", "exec", self.name]

    def create(self) -> None:
        steps = [
            ("netns", "add", self.name),
            ("link", "add", self._near, "type", "veth", "peer", "name", self._far),
            ("link", "set", self._far, "netns", self.name),
            ("addr", "add", f"{self.near_ip}/30", "dev", self._near),
            ("link", "set", self._near, "up"),
            ("-n", self.name, "addr", "add", f"{self.far_ip}/30", "dev", self._far),
            ("-n", self.name, "link", "set", self._far, "up"),
            ("-n", self.name, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                self.delete()
                raise RuntimeError(f"ip {' '.join(step)}: {done.stderr.strip()}")

    def cut(self) -> None:
        self._set("down")

    def restore(self) -> None:
        self._set("up")

    def pids(self) -> list[int]:
        """The processes running in the namespace."""
        listed = _ip("netns", "pids", self.name)
        return [int(pid) for pid in listed.stdout.split()]

    def delete(self) -> None:
        """The namespace and the pair (deleting either end deletes both)."""
        _ip("netns", "del", self.name)
        _ip("link", "del", self._near)

    def _set(self, state: str) -> None:
        done = _ip("-n", self.name, "link", "set", self._far, state)
        if done.returncode != 0:
            raise RuntimeError(f"ip link set {self._far} {state}: {done.stderr.strip()}")
