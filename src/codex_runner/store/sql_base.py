"""What the SQL store's mixins (``sql_hosts``, ``sql_conversation``) use of SqlStore: its
write and read paths. SqlStore defines them; the mixins only declare them here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from codex_runner.domain.task import Task

T = TypeVar("T")


class SqlAccess:
    async def _write(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _read(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _read_tasks(self, query: Any, parameters: dict[str, Any] | None = None) -> list[Task]:
        raise NotImplementedError

    def _writer_engine(self) -> Engine:
        raise NotImplementedError
