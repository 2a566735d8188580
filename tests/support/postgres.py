"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary
folder, listening on a Unix socket only (no port to race for), stopped at the end.

Why Debian's ``postgresql`` rather than a server shipped in a wheel: it is the server people
run, it is one ``apt-get install`` that ``make test-tools`` does when ``initdb`` is missing,
and a cluster made with ``--no-sync`` and run with ``fsync=off`` starts in about a second.
PostgreSQL refuses to run as root, so as root the cluster belongs to ``nobody``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT_S = 60
TEMPLATE = "runner_template"


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's versioned folder."""
    on_path = shutil.which("initdb")
    if on_path is not None and shutil.which("pg_ctl") is not None:
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


class PostgresServer:
    """Start with :meth:`start`, end with :meth:`stop`; :meth:`new_database` per test."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="codex-runner-pg-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "run"
        self._user = "nobody" if os.geteuid() == 0 else None
        self._template_ready = False
        self._reusable: str | None = None

    def _run(self, *argv: str, timeout: float = START_TIMEOUT_S) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def start(self) -> None:
        self.socket_dir.mkdir()
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chmod(self.base, 0o755)
            for path in (self.base, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.base / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        )

    def restart(self) -> None:
        """Stop the server (fast: connections are cut) and start it again."""
        log = str(self.base / "server.log")  # else the server holds our captured stdout open
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-m", "fast", "-w", "restart")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def new_database(self, *, migrated: bool = True) -> str:
        """A fresh database, its URL: one migrated to the store's schema (what a store would
        make of an empty one, without running Alembic for every test), or an empty one
        (``migrated=False``).

        A migrated one is the previous test's, emptied (TRUNCATE takes milliseconds where a
        copy of the template takes a tenth of a second or more); when something still holds
        it (a test left a connection open), a fresh copy of the template instead. One server
        serves one test process, whose tests run one at a time, so no two share it at once.
        """
        if migrated and not self._template_ready:
            self._make_template()
        if migrated and self._reusable is not None and self._emptied(self._reusable):
            return self.url(self._reusable)
        name = f"t_{uuid.uuid4().hex[:16]}"
        if migrated:
            self._reusable = name
        template = f' TEMPLATE "{TEMPLATE}"' if migrated else ""
        self._admin(f'CREATE DATABASE "{name}"{template}')
        return self.url(name)

    def _emptied(self, name: str) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                host=str(self.socket_dir), user="postgres", dbname=name, autocommit=True
            ) as conn:
                conn.execute("SET lock_timeout = '2s'")
                found = conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                ).fetchall()
                tables = ", ".join(f'"{table}"' for (table,) in found)
                conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE".encode())
        except psycopg.Error:
            return False
        return True

    def _make_template(self) -> None:
        from sqlalchemy import create_engine

        from codex_runner.store import migrations

        self._admin(f'CREATE DATABASE "{TEMPLATE}"')
        engine = create_engine(self.url(TEMPLATE))
        try:
            with engine.begin() as conn:
                migrations.upgrade(conn)
        finally:
            engine.dispose()  # a template must have no connections to be copied
        self._template_ready = True

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.encode())

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL's initdb is not installed: run `make test-tools` (it installs "
            "Debian's postgresql) or put initdb and pg_ctl on PATH"
        )
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
