"""Alembic environment of the SQL store.

``SqlStore.open()`` passes its own connection in ``config.attributes["connection"]``. For
development with the ``alembic`` command, set ``sqlalchemy.url`` in an ini file instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from codex_runner.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("codex-runner migrations run online only (no --sql mode)")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (e.g. sqlite:///runner.sqlite) to run alembic")
    with create_engine(url).begin() as own_connection:
        _run(own_connection)


_main()
