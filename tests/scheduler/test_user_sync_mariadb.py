"""MIS user sync from MariaDB (the `mysql` extra, PyMySQL): another engine through the same
SQLAlchemy URL setting, streamed with a server-side cursor, Korean names in utf8mb4."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pymysql
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.config import get_settings
from core.models import User
from core.user_sync import run_once

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    name = f"sd_mis_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(**MARIADB, charset="utf8mb4", autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            conn.select_db(name)
            cursor.execute(
                f"CREATE TABLE {name}.INSA_MST (EMP_NO VARCHAR(20) PRIMARY KEY, "
                "E_MAIL VARCHAR(200), KOR_NM VARCHAR(100), DEPT_NM VARCHAR(100), "
                "USE_YN CHAR(1))"
            )
            cursor.execute(
                f"INSERT INTO {name}.INSA_MST SELECT CONCAT('S', LPAD(seq, 6, '0')), "
                "CASE WHEN seq IN (7, 8) THEN CONCAT('no-at-', seq) "
                "WHEN seq = 9 THEN 'mis1@univ.ac.kr' ELSE CONCAT('mis', seq, '@univ.ac.kr') END, "
                "CONCAT('직원', seq), '총무팀', IF(seq % 100 = 0, 'N', 'Y') FROM seq_1_to_2000"
            )
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


async def test_sync_from_mariadb(committed_db: AsyncEngine, mariadb_url: str) -> None:
    settings = get_settings().model_copy(
        update={
            "mis_database_url": mariadb_url,
            "mis_user_query": "",
            "mis_user_table": "INSA_MST",
            "mis_user_columns": "external_id=EMP_NO,email=E_MAIL,name=KOR_NM,department=DEPT_NM,"
            "active=USE_YN",
            "mis_batch_size": 500,
        }
    )
    first = await run_once(settings=settings)
    assert first.status == "succeeded", first.error
    assert first.summary["created"] == 1997
    assert first.summary["skipped_reasons"] == {"duplicate_email": 1, "invalid_email": 2}
    async with AsyncSession(committed_db) as session:
        user = await session.scalar(select(User).where(User.external_id == "S000010"))
        assert user is not None and (user.name, user.department) == ("직원10", "총무팀")
        inactive = await session.scalar(
            select(func.count()).select_from(User).where(User.active.is_(False))
        )
        assert inactive == 20
    second = await run_once(settings=settings)
    assert (second.summary["created"], second.summary["updated"]) == (0, 0)
    assert second.summary["unchanged"] == 1997
