"""Wake-ups between hosts over PostgreSQL's LISTEN/NOTIFY (nothing on SQLite: one host).

A host that queues work (a new task, a follow-up, a resume) notifies the others on one
channel; each host listens on a connection of its own, in a thread, and wakes its scheduler
when a notice comes. A notice that is lost (a dropped connection) costs at most one
heartbeat: every beat wakes the scheduler anyway, and the listener reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

from codex_runner.store.postgres_engines import CLIENT_LIVENESS

log = logging.getLogger(__name__)

CHANNEL = "codex_runner_work"
POLL_S = 1.0  # how often the listener thread checks that it should go on
RECONNECT_S = 2.0


def notify(conn: Connection, topic: str) -> None:
    """Tell the other hosts there is work; PostgreSQL sends it when ``conn`` commits."""
    query = text("SELECT pg_notify(:channel, :topic)")
    conn.execute(query, {"channel": CHANNEL, "topic": topic})


class NoticeListener:
    """A thread LISTENing on the channel; ``on_notice(topic)`` is called from it."""

    def __init__(self, engine: Engine, on_notice: Callable[[str], None]) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._on_notice = on_notice
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="codex-runner-notices", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL_S + RECONNECT_S + 1)

    def _run(self) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        while not self._stop.is_set():
            try:
                conninfo = make_conninfo(self._conninfo, **CLIENT_LIVENESS)
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=POLL_S, stop_after=100):
                            with contextlib.suppress(Exception):
                                self._on_notice(notice.payload)
            except psycopg.Error as exc:
                # The password is in the conninfo, never in psycopg's messages.
                log.warning("listening for other hosts' work failed (%s); retrying", exc)
                self._stop.wait(RECONNECT_S)
