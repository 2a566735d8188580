"""The SQL store's co-authors (store.coauthors). Mixed into SqlStore."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, insert, select, update

from codex_runner.store.coauthors import Coauthor, CoauthorSource
from codex_runner.store.sql_base import SqlAccess
from codex_runner.store.tables import coauthors


def _coauthor(row: RowMapping) -> Coauthor:
    source = row["source"]
    return Coauthor(
        bridge=row["bridge"],
        user=row["user_id"],
        author=row["author"],
        source=CoauthorSource(source) if source is not None else None,
        updated_at=row["updated_at"],
        display_name=row["display_name"],
        offered_at=row["offered_at"],
    )


def _where(bridge: str, user: str) -> ColumnElement[bool]:
    return and_(coauthors.c.bridge == bridge, coauthors.c.user_id == user)


class SqlCoauthors(SqlAccess):
    async def coauthor(self, bridge: str, user: str) -> Coauthor | None:
        def work(conn: Connection) -> Coauthor | None:
            row = conn.execute(select(coauthors).where(_where(bridge, user))).mappings().first()
            return None if row is None else _coauthor(row)

        return await self._read(work)

    async def put_coauthor(self, entry: Coauthor, *, over_manual: bool = True) -> bool:
        values = {
            "author": entry.author,
            "source": entry.source.value if entry.source is not None else None,
            "display_name": entry.display_name,
            "updated_at": entry.updated_at,
        }

        def work(conn: Connection) -> bool:
            where = _where(entry.bridge, entry.user)
            old = conn.execute(select(coauthors.c.source).where(where)).first()
            if old is None:
                row = {"bridge": entry.bridge, "user_id": entry.user, "offered_at": None}
                conn.execute(insert(coauthors), [{**row, **values}])
                return True
            if not over_manual and old.source == CoauthorSource.MANUAL.value:
                return False
            conn.execute(update(coauthors).where(where).values(**values))
            return True

        return await self._write(work)

    async def mark_coauthor_offered(self, bridge: str, user: str, at: datetime) -> bool:
        def work(conn: Connection) -> bool:
            where = _where(bridge, user)
            if conn.execute(select(coauthors.c.bridge).where(where)).first() is None:
                row = {
                    "bridge": bridge,
                    "user_id": user,
                    "author": None,
                    "source": None,
                    "display_name": "",
                    "updated_at": at,
                    "offered_at": at,
                }
                conn.execute(insert(coauthors), [row])
                return True
            # Only the first asker finds it unset: the row is the once-only mark.
            marked = conn.execute(
                update(coauthors)
                .where(where, coauthors.c.offered_at.is_(None))
                .values(offered_at=at)
            )
            return bool(marked.rowcount)

        return await self._write(work)

    async def list_coauthors(self) -> list[Coauthor]:
        query = select(coauthors).order_by(coauthors.c.bridge, coauthors.c.user_id)

        def work(conn: Connection) -> list[Coauthor]:
            return [_coauthor(r) for r in conn.execute(query).mappings()]

        return await self._read(work)
