"""The SQL store's record of each task's Codex conversation: the threads it owned, its
turns, and the thread ``run`` last used in each directory. Mixed into SqlStore."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from codex_runner.domain.conversation import ThreadRecord, Turn
from codex_runner.domain.hosts import Rollout
from codex_runner.domain.task import Task
from codex_runner.store import rows
from codex_runner.store import sql_statements as statements
from codex_runner.store import sql_steps as steps
from codex_runner.store.sql_base import SqlAccess
from codex_runner.store.sql_threads import idempotent
from codex_runner.store.tables import thread_rollouts


class SqlConversation(SqlAccess):
    async def record_thread(self, thread: ThreadRecord) -> None:
        def work(conn: Connection) -> None:
            steps.require_task(conn, thread.task_id)
            steps.record_thread(conn, thread)

        await self._write(work)

    async def find_task_by_thread(self, thread_id: str) -> Task | None:
        found = await self._read_tasks(statements.TASK_BY_THREAD, {"match_thread_id": thread_id})
        return found[0] if found else None

    async def save_turn(self, turn: Turn) -> None:
        # An upsert of the turn's row: safe to run again after a commit that may have happened.
        await self._write(idempotent(lambda conn: steps.save_turn(conn, turn)))

    async def list_turns(self, task_id: str) -> list[Turn]:
        params = {"task_id": task_id}
        found = await self._read(
            lambda conn: conn.execute(statements.TURNS_OF_TASK, params).mappings().all()
        )
        return [rows.turn_from_row(r) for r in found]

    async def record_directory_thread(self, path: str, thread_id: str, at: datetime) -> None:
        await self._write(lambda conn: steps.record_directory_thread(conn, path, thread_id, at))

    async def directory_thread(self, path: str) -> str | None:
        params = {"match_path": path}
        found: str | None = await self._read(
            lambda conn: conn.scalar(statements.DIRECTORY_THREAD, params)
        )
        return found

    async def save_rollout(self, rollout: Rollout) -> None:
        row = asdict(rollout)

        def work(conn: Connection) -> None:
            conn.execute(
                delete(thread_rollouts).where(thread_rollouts.c.thread_id == rollout.thread_id)
            )
            conn.execute(insert(thread_rollouts), [row])

        await self._write(work)

    async def load_rollout(self, thread_id: str) -> Rollout | None:
        query = select(thread_rollouts).where(thread_rollouts.c.thread_id == thread_id)
        found = await self._read(lambda conn: conn.execute(query).mappings().first())
        return None if found is None else Rollout(**dict(found))
