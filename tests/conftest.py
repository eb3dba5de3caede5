"""Test harness on a real PostgreSQL.

A throwaway database is created once per run on TEST_DATABASE_URL's server (default: the server on
127.0.0.1:5432, user postgres; if none answers, the same embedded cluster the quick start uses),
migrated to head once, and dropped at the end. Tests that only need the database take `session`,
which is rolled back after the test; tests that drive processes which commit on their own (SMTP,
API servers, workers) take `committed_db`, which empties every table afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_TEST_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("JWT_SECRET", "test-secret-" + "x" * 32)
os.environ.setdefault("HELPDESK_ADDRESSES", "help@test.ac.kr")


def _plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _server_answers(url: str) -> bool:
    try:
        with psycopg.connect(_plain_dsn(url), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _resolve_test_server() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_SERVER)
    from core.config import normalise_database_url

    url = normalise_database_url(url)
    if _server_answers(url):
        return url
    if "TEST_DATABASE_URL" in os.environ:
        pytest.exit(f"TEST_DATABASE_URL does not answer: {url}", returncode=2)
    from servicedesk import devdb

    cluster = devdb.EmbeddedPostgres(devdb.default_root(PROJECT_DIR).parent / "pg-test", port=54330)
    return cluster.start().rsplit("/", 1)[0] + "/postgres"


def create_database(server_url: str, prefix: str = "sd_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_plain_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(_plain_dsn(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def run_migrations(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Alembic's env calls asyncio.run(); keep it off the test's event loop."""
    from core import migrate

    action = migrate.downgrade if down else migrate.upgrade
    with ThreadPoolExecutor(1) as pool:
        pool.submit(action, url, revision).result()


@pytest.fixture(scope="session")
def test_server_url() -> str:
    return _resolve_test_server()


@pytest.fixture(scope="session")
def database_url(test_server_url: str) -> Iterator[str]:
    url = create_database(test_server_url)
    os.environ["DATABASE_URL"] = url
    from core.config import get_settings

    get_settings.cache_clear()
    run_migrations(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from core import db

    engine = create_async_engine(
        database_url, pool_size=10, max_overflow=20, connect_args={"application_name": "tests"}
    )
    db.use_engine(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session whose every commit is a savepoint inside a transaction rolled back at the end."""
    async with AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    ) as session:
        yield session


@pytest.fixture
async def committed_db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """For tests whose code commits for real: every table is emptied afterwards."""
    yield engine
    async with engine.begin() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
