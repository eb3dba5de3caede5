"""bench/mis_sync: one MIS user sync of N users (default 100,000) from a separate PostgreSQL
database, then a second, unchanged run. Each sync runs as `servicedesk sync-users` in its own
process, so the time and peak RSS printed are those of that process alone.

    .venv/bin/python -m bench.mis_sync [--users 100000] [--server postgresql://postgres@127.0.0.1/postgres]

Goal (issue #7): under 60 s and under 200 MB RSS; the unchanged run under 20 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

PROJECT_DIR = Path(__file__).resolve().parents[2]


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_db(server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return (
        make_url(server)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def drop_db(server: str, url: str) -> None:
    with psycopg.connect(plain(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def fill_mis(url: str, users: int) -> None:
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE hr_people (emp_no varchar(20) PRIMARY KEY, mail varchar(200),
               kor_nm varchar(100), dept_nm varchar(100), tel varchar(40), use_yn char(1))"""
        )
        conn.execute(
            """INSERT INTO hr_people
               SELECT 'E' || lpad(i::text, 7, '0'), 'user' || i || '@univ.ac.kr', '사용자' || i,
                      '학과' || (i %% 60), '02-880-' || lpad((i %% 10000)::text, 4, '0'),
                      CASE WHEN i %% 500 = 0 THEN 'N' ELSE 'Y' END
               FROM generate_series(1, %s) AS i""",
            (users,),
        )


def sync(env: dict[str, str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "sync-users"],
        env=env,
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    output = child.stdout.read() if child.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sync failed:\n{output}")
    return elapsed, usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    desk = create_db(args.server, "bench_desk")
    mis = create_db(args.server, "bench_mis")
    try:
        env = {
            **os.environ,
            "DATABASE_URL": desk,
            "MIS_DATABASE_URL": mis,
            "MIS_USER_QUERY": "",
            "MIS_USER_TABLE": "hr_people",
            "MIS_USER_COLUMNS": "external_id=emp_no,email=mail,name=kor_nm,department=dept_nm,"
            "phone=tel,active=use_yn",
            "MIS_DEACTIVATE_MISSING": "true",
            "MIS_BATCH_SIZE": str(args.batch),
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "servicedesk", "migrate"],
            env=env,
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
        fill_mis(mis, args.users)
        print(f"MIS users: {args.users:,} (batch {args.batch})")
        for label in ("first sync (creates)", "second sync (unchanged)"):
            elapsed, rss_mb, summary = sync(env)
            print(f"{label:26s} {elapsed:6.1f} s   peak RSS {rss_mb:6.1f} MB   {summary}")
    finally:
        drop_db(args.server, desk)
        drop_db(args.server, mis)


if __name__ == "__main__":
    main()
