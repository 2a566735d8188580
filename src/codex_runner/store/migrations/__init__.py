"""Schema migrations of the SQL store (Alembic), run by ``SqlStore.open()``.

No ``alembic.ini`` is needed: :func:`upgrade` builds the Alembic configuration in code and
runs it on the connection it is given. A database already at :data:`SCHEMA_REVISION` is
recognised with one query, without loading Alembic.

To add a revision: write ``versions/NNNN_<what>.py`` by hand (``down_revision`` = the
previous one), update ``tables.py`` to match, and set :data:`SCHEMA_REVISION`; a unit test
checks that the migrated schema and ``tables.py`` agree.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, String, column, inspect, select, table

from codex_runner.store.errors import SchemaError

SCHEMA_REVISION = "0014"
MIGRATIONS_DIR = Path(__file__).parent
VERSION_TABLE = "alembic_version"


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, or None for a database never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    query = select(column("version_num", String())).select_from(table(VERSION_TABLE))
    revision: str | None = connection.execute(query).scalar()
    return revision


def upgrade(connection: Connection) -> None:
    """Bring the database on ``connection`` to :data:`SCHEMA_REVISION`.

    Runs inside the caller's transaction. Raises :class:`SchemaError` when the database
    cannot be migrated (e.g. it was made by a newer codex-runner).
    """
    if current_revision(connection) == SCHEMA_REVISION:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.util.exc import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as e:
        raise SchemaError(
            f"cannot migrate the database to schema {SCHEMA_REVISION}: {e}. A database made"
            " by a newer codex-runner needs that version (or a fresh state directory)."
        ) from e
