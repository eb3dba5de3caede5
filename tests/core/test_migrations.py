"""The migrations build the schema the models describe, and undo it."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from core.models import Base
from tests.conftest import _plain_dsn, create_database, drop_database, run_migrations


def _table_names(url: str) -> set[str]:
    with psycopg.connect(_plain_dsn(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}


def test_upgrade_downgrade_round_trip(test_server_url: str) -> None:
    url = create_database(test_server_url, prefix="sd_migr")
    try:
        run_migrations(url)
        assert set(Base.metadata.tables) <= _table_names(url)
        run_migrations(url, "base", down=True)
        assert _table_names(url) == {"alembic_version"}
        run_migrations(url)
        assert set(Base.metadata.tables) <= _table_names(url)
    finally:
        drop_database(url)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"
