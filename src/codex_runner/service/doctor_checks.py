"""doctor's findings: each check's level, message and fix, and the report of them all."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.level is not Level.ERROR for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


def ok(name: str, message: str) -> Check:
    return Check(name, Level.OK, message)


def warn(name: str, message: str, fix: str) -> Check:
    return Check(name, Level.WARNING, message, fix)


def error(name: str, message: str, fix: str | None = None) -> Check:
    return Check(name, Level.ERROR, message, fix)
