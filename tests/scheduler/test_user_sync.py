"""MIS user sync against a real second database (a separate PostgreSQL database made here) with
50,000 people: creates, updates, deactivations and bad rows are counted; a second run changes
nothing; a dry run writes nothing; an unreachable MIS is a failed run the API shows."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.app import create_app
from core.auth.jwt import issue_access_token
from core.config import get_settings
from core.models import Role, User
from core.user_sync import run_once
from tests.conftest import _plain_dsn, create_database, drop_database

PROJECT_DIR = Path(__file__).resolve().parents[2]
MIS_ROWS = 50_000

MIS_TABLE = f"""
CREATE TABLE hr_people (emp_no varchar(20), mail varchar(200), kor_nm varchar(100),
                        dept_nm varchar(100), tel varchar(40), use_yn char(1));
INSERT INTO hr_people
SELECT 'E' || lpad(i::text, 6, '0'), 'user' || i || '@univ.ac.kr', '사용자' || i,
       '학과' || (i % 40), '02-880-' || lpad((i % 10000)::text, 4, '0'),
       CASE WHEN i % 1000 = 0 THEN 'N' ELSE 'Y' END
FROM generate_series(1, {MIS_ROWS - 10}) AS i;
-- ten bad rows among the 50,000
INSERT INTO hr_people
SELECT 'E' || lpad(i::text, 6, '0'), 'broken-' || i, '오류' || i, '학과', NULL, 'Y'
FROM generate_series({MIS_ROWS - 9}, {MIS_ROWS - 5}) AS i;               -- 5 invalid emails
INSERT INTO hr_people
SELECT 'E' || lpad(i::text, 6, '0'), 'USER1@univ.ac.kr', '중복' || i, '학과', NULL, 'Y'
FROM generate_series({MIS_ROWS - 4}, {MIS_ROWS - 2}) AS i;               -- 3 duplicate emails
INSERT INTO hr_people VALUES (NULL, 'noid@univ.ac.kr', '사번없음', '학과', NULL, 'Y');
INSERT INTO hr_people VALUES ('E000002', 'twin@univ.ac.kr', '쌍둥이', '학과', NULL, 'Y');
"""


@pytest.fixture(scope="module")
def mis_url(test_server_url: str) -> Iterator[str]:
    url = create_database(test_server_url, prefix="sd_mis")
    with psycopg.connect(_plain_dsn(url), autocommit=True) as conn:
        conn.execute(MIS_TABLE)
    yield url
    drop_database(url)


def mis_settings(mis_url: str, **extra: object):  # type: ignore[no-untyped-def]
    return get_settings().model_copy(
        update={
            "mis_database_url": mis_url,
            "mis_user_query": "",
            "mis_user_table": "hr_people",
            "mis_user_columns": "external_id=emp_no,email=mail,name=kor_nm,department=dept_nm,"
            "phone=tel,active=use_yn",
            "mis_deactivate_missing": True,
            "mis_batch_size": 5000,
            **extra,
        }
    )


async def _seed_local_users(session: AsyncSession) -> None:
    people = []
    for i in range(11, 21):  # wrote in before MIS knew them: linked by email
        people.append(User(email=f"User{i}@Univ.ac.kr", name=f"메일사용자{i}"))
    for i in range(21, 41):  # already in step with MIS
        people.append(
            User(
                email=f"user{i}@univ.ac.kr",
                external_id=f"E{i:06d}",
                name=f"사용자{i}",
                department=f"학과{i % 40}",
                phone=f"02-880-{i % 10000:04d}",
            )
        )
    for i in range(41, 51):  # moved department
        people.append(
            User(
                email=f"user{i}@univ.ac.kr",
                external_id=f"E{i:06d}",
                name=f"사용자{i}",
                department="옛 학과",
                phone=f"02-880-{i % 10000:04d}",
            )
        )
    people.append(  # an agent from MIS with an old phone: updated, still an agent
        User(
            email="user51@univ.ac.kr",
            external_id="E000051",
            name="사용자51",
            department="학과11",
            phone="010-0000-0000",
            role=Role.agent.value,
        )
    )
    for n in range(1, 26):  # left the university
        people.append(User(email=f"gone{n}@univ.ac.kr", external_id=f"X{n:05d}", name="퇴직"))
    people.append(
        User(email="old@univ.ac.kr", external_id="X99999", name="이미 비활성", active=False)
    )
    # Holds the address MIS gives E000060, under another MIS id that no longer exists.
    people.append(User(email="user60@univ.ac.kr", external_id="OTHER-60", name="주소 주인"))
    people.append(User(email="walkin@univ.ac.kr", name="MIS에 없는 요청자"))  # never touched
    session.add_all(people)
    await session.commit()


async def _state(engine: AsyncEngine) -> dict[str, int]:
    async with AsyncSession(engine) as session:
        total = await session.scalar(select(func.count()).select_from(User))
        active = await session.scalar(
            select(func.count()).select_from(User).where(User.active.is_(True))
        )
        agent = await session.scalar(select(User).where(User.external_id == "E000051"))
        assert agent is not None
        return {"total": total or 0, "active": active or 0, "agent_is_agent": agent.role == "agent"}


FIRST_RUN = {
    "fetched": MIS_ROWS,
    "created": MIS_ROWS - 11 - 41,
    "updated": 21,
    "deactivated": 26,
    "unchanged": 20,
    "skipped": 11,
    "skipped_reasons": {
        "duplicate_email": 3,
        "duplicate_external_id": 1,
        "email_in_use": 1,
        "invalid_email": 5,
        "missing_external_id": 1,
    },
}


@pytest.mark.slow
async def test_sync_50k_users_counts_then_changes_nothing(
    committed_db: AsyncEngine, mis_url: str
) -> None:
    async with AsyncSession(committed_db) as session:
        await _seed_local_users(session)
    before = await _state(committed_db)

    first = await run_once(settings=mis_settings(mis_url))
    assert first.status == "succeeded", first.error
    assert first.trigger == "cli"
    assert first.summary == {**FIRST_RUN, "dry_run": False}
    assert "invalid_email" in first.log and "fetched 50000" in first.log
    after = await _state(committed_db)
    assert after["total"] == before["total"] + FIRST_RUN["created"]
    assert after["agent_is_agent"]

    async with AsyncSession(committed_db) as session:
        linked = await session.scalar(select(User).where(User.email == "user15@univ.ac.kr"))
        assert linked is not None and linked.external_id == "E000015" and linked.name == "사용자15"
        gone = await session.scalar(select(User).where(User.external_id == "X00007"))
        assert gone is not None and gone.active is False  # deactivated, not deleted
        assert (
            await session.scalar(select(User).where(User.external_id == "E001000"))
        ).active is False  # type: ignore[union-attr]
        walkin = await session.scalar(select(User).where(User.email == "walkin@univ.ac.kr"))
        assert walkin is not None and walkin.active is True
        stamp = await session.scalar(select(User.updated_at).where(User.external_id == "E000030"))

    second = await run_once(settings=mis_settings(mis_url))
    assert second.status == "succeeded", second.error
    assert second.summary == {
        **FIRST_RUN,
        "created": 0,
        "updated": 0,
        "deactivated": 0,
        "unchanged": MIS_ROWS - 11,
        "dry_run": False,
    }
    assert await _state(committed_db) == after
    async with AsyncSession(committed_db) as session:
        assert stamp == await session.scalar(
            select(User.updated_at).where(User.external_id == "E000030")
        )


async def test_a_query_that_returns_nobody_deactivates_nobody(
    committed_db: AsyncEngine, mis_url: str
) -> None:
    async with AsyncSession(committed_db) as session:
        session.add(User(email="kept@univ.ac.kr", external_id="K1", name="유지"))
        await session.commit()
    run = await run_once(
        settings=mis_settings(
            mis_url,
            mis_user_table="",
            mis_user_query="SELECT emp_no AS external_id, mail AS email FROM hr_people WHERE false",
        )
    )
    assert run.status == "failed"
    assert "refusing" in run.error.splitlines()[0]  # type: ignore[union-attr]
    async with AsyncSession(committed_db) as session:
        kept = await session.scalar(select(User).where(User.external_id == "K1"))
        assert kept is not None and kept.active


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def real_api(committed_db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The API on real sessions (it commits), as a deployed API would read the job runs."""
    app = create_app(manage_engine=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        yield client


async def test_unreachable_mis_is_a_failed_run_and_the_next_run_proceeds(
    committed_db: AsyncEngine, mis_url: str, real_api: httpx.AsyncClient
) -> None:
    async with AsyncSession(committed_db, expire_on_commit=False) as session:
        admin = User(email="admin@univ.ac.kr", name="관리자", role=Role.admin.value)
        session.add(admin)
        await session.commit()
        headers = {"Authorization": f"Bearer {issue_access_token(user_id=admin.id)}"}

    port = _closed_port()
    down = await run_once(
        settings=mis_settings(
            mis_url, mis_database_url=f"postgresql://postgres@127.0.0.1:{port}/hr"
        )
    )
    assert down.status == "failed"
    headline = down.error.splitlines()[0]  # type: ignore[union-attr]
    assert headline.startswith("Unavailable: MIS database unreachable at ")
    assert f"127.0.0.1:{port}" in headline and "Connection refused" in headline

    query = (
        "SELECT emp_no AS external_id, mail AS email, kor_nm AS name FROM hr_people "
        "WHERE emp_no <= 'E000100' ORDER BY emp_no, mail"
    )
    subset = mis_settings(
        mis_url, mis_user_table="", mis_user_query=query, mis_deactivate_missing=False
    )
    dry = await run_once(dry_run=True, settings=subset)
    assert dry.status == "succeeded", dry.error
    assert (dry.summary["created"], dry.summary["dry_run"]) == (100, True)
    async with AsyncSession(committed_db) as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1  # nothing written

    up = await run_once(settings=subset)
    assert up.status == "succeeded", up.error
    assert up.summary["created"] == 100 and up.summary["skipped"] == 1  # the E000002 twin

    runs = (await real_api.get("/api/v1/admin/jobs/user_sync/runs", headers=headers)).json()
    assert [(r["id"], r["status"]) for r in runs["items"]] == [
        (up.id, "succeeded"),
        (dry.id, "succeeded"),
        (down.id, "failed"),
    ]
    failed = (
        await real_api.get("/api/v1/admin/jobs/user_sync/runs?status=failed", headers=headers)
    ).json()
    assert [r["id"] for r in failed["items"]] == [down.id]
    detail = (await real_api.get(f"/api/v1/admin/job-runs/{down.id}", headers=headers)).json()
    assert detail["error"].startswith("Unavailable: MIS database unreachable")
    assert "Traceback" in detail["error"] and "failed: Unavailable" in detail["log"]
    jobs = (await real_api.get("/api/v1/admin/jobs", headers=headers)).json()
    user_sync = next(j for j in jobs if j["id"] == "user_sync")
    assert (user_sync["last_status"], user_sync["last_run_id"]) == ("succeeded", up.id)


async def test_the_cli_and_the_readme_one_liner(
    committed_db: AsyncEngine, mis_url: str, database_url: str
) -> None:
    """`servicedesk sync-users --dry-run` and the README's `python -c ... sync_users_once()`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MIS_DATABASE_URL": mis_url,
        "MIS_USER_TABLE": "",
        "MIS_USER_QUERY": "SELECT emp_no AS external_id, mail AS email FROM hr_people "
        "WHERE emp_no BETWEEN 'E049001' AND 'E049010'",
        "MIS_DEACTIVATE_MISSING": "false",
    }
    dry = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "servicedesk", "sync-users", "--dry-run"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dry.returncode == 0, dry.stderr
    assert "user_sync run" in dry.stdout and "'created': 10" in dry.stdout
    assert "'dry_run': True" in dry.stdout
    once = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from core.user_sync import sync_users_once; sync_users_once()"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert once.returncode == 0, once.stderr
    assert "user sync succeeded" in once.stdout and "'created': 10" in once.stdout
    broken = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from core.user_sync import sync_users_once; sync_users_once()"],
        env={**env, "MIS_USER_QUERY": "SELECT nothing FROM nowhere"},
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode != 0 and "the MIS user query failed" in broken.stderr
