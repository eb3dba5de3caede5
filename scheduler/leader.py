"""Leader election: a PostgreSQL session-level advisory lock held on a dedicated connection.

Any number of scheduler replicas may run. The one holding the lock is the leader and runs jobs;
the others try to take it on every tick. The lock lives as long as the connection: when the leader
dies (even by SIGKILL) its socket closes, PostgreSQL ends the session and frees the lock, and the
next tick of a standby takes it. A leader whose connection breaks stops leading at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import psycopg
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

LEADER_LOCK = (7_400, 1)  # (namespace, key) of pg_try_advisory_lock
CHECK_TIMEOUT = 5.0
RECHECK_AFTER = 0.5  # seconds a successful check is trusted (many jobs may fire on one tick)


def libpq_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    def __init__(self, database_url: str, *, name: str = "servicedesk-scheduler-leader") -> None:
        self.dsn = libpq_dsn(database_url)
        self.name = name
        self.is_leader = False
        # Why the last check could not reach PostgreSQL (None when it could): a tick that fires
        # meanwhile is recorded as a failed run once the database is back (scheduler/runner.py).
        self.unreachable: str | None = None
        self._conn: psycopg.AsyncConnection | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    async def ensure(self) -> bool:
        """Leader: confirm the lock's connection is alive. Standby: try to take the lock."""
        async with self._lock:
            if self.is_leader and time.monotonic() - self._checked_at < RECHECK_AFTER:
                return True
            try:
                await asyncio.wait_for(self._ensure(), timeout=CHECK_TIMEOUT)
                self.unreachable = None
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if self.is_leader:
                    logger.error("lost the scheduler leader lock: %s", exc)
                self.unreachable = f"{type(exc).__name__}: {exc}".strip()[:500]
                self.is_leader = False
                await self._drop_connection()
            return self.is_leader

    async def _ensure(self) -> None:
        if self._conn is None or self._conn.closed:
            self.is_leader = False
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn,
                autocommit=True,
                application_name=self.name,
                connect_timeout=5,
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        if self.is_leader:
            await self._conn.execute("SELECT 1")
        else:
            cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", LEADER_LOCK)
            row = await cursor.fetchone()
            self.is_leader = bool(row and row[0])
            if self.is_leader:
                logger.info("this scheduler is now the leader")
        self._checked_at = time.monotonic()

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            # It may already be broken; closing is best effort.
            with contextlib.suppress(Exception):
                await self._conn.close()
        self._conn = None

    async def release(self) -> None:
        """Step down (closing the connection frees the lock even if the unlock fails)."""
        async with self._lock:
            if self._conn is not None and self.is_leader:
                with contextlib.suppress(psycopg.Error):
                    await self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", LEADER_LOCK)
            self.is_leader = False
            await self._drop_connection()
