"""bench/sla: the time of one SLA scan tick with 100,000 and then 1,000,000 open tickets, the same
number of them due (default 200) each time, plus an idle tick (nothing due).

    .venv/bin/python -m bench.sla [--sizes 100000,1000000] [--due 200]

The scan reads only the partial index on tickets.sla_next_check_at, so its cost should follow the
due tickets, not the open ones. Tickets are inserted with SQL (generate_series) in the state the
SLA handlers would have left them: a running clock on the default calendar, most with their next
check days ahead, `--due` of them with a first-response breach due now.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core import db
from core.config import get_settings
from core.jobs import catalog, runner

SCAN_SQL = (
    "SELECT id FROM tickets WHERE sla_next_check_at IS NOT NULL AND sla_next_check_at <= now() "
    "ORDER BY sla_next_check_at LIMIT 500 FOR UPDATE SKIP LOCKED"
)


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def setup_desk(url: str) -> int:
    with psycopg.connect(plain(url), autocommit=True) as conn:
        requester = conn.execute(
            "INSERT INTO users (email, name) VALUES ('bench@univ.ac.kr', '벤치') RETURNING id"
        ).fetchone()[0]
        agents = [
            conn.execute(
                "INSERT INTO users (email, name, role) VALUES (%s, %s, 'agent') RETURNING id",
                (f"agent{n}@univ.ac.kr", f"상담원{n}"),
            ).fetchone()[0]
            for n in range(2)
        ]
        team = conn.execute(
            "INSERT INTO teams (name, lead_id) VALUES ('벤치팀', %s) RETURNING id", (agents[0],)
        ).fetchone()[0]
        for agent in agents:
            conn.execute("INSERT INTO team_members VALUES (%s, %s)", (team, agent))
        conn.execute(
            "INSERT INTO sla_policies (name, first_response_minutes, resolution_minutes, "
            "escalate_priority) VALUES ('기본', 240, 2400, false)"
        )
        return requester, team  # type: ignore[return-value]


def add_tickets(url: str, requester: int, team: int, start: int, count: int) -> None:
    with psycopg.connect(plain(url), autocommit=True) as conn:
        policy = conn.execute("SELECT id FROM sla_policies").fetchone()[0]
        step = 100_000
        for offset in range(start, start + count, step):
            n = min(step, start + count - offset)
            conn.execute(
                """INSERT INTO tickets (subject, status, priority, channel, requester_id, team_id,
                       sla_policy_id, sla_clock_started_at, sla_elapsed_business_seconds,
                       first_response_due_at, resolution_due_at, sla_next_check_at)
                   SELECT 'bench ' || i, 'open', 'normal', 'web', %(requester)s, %(team)s,
                          %(policy)s, now(), 0, now() + interval '3 days',
                          now() + interval '30 days',
                          now() + interval '1 day' + (i %% 1440) * interval '1 minute'
                   FROM generate_series(%(first)s::int, %(last)s::int) AS i""",
                {
                    "requester": requester,
                    "team": team,
                    "policy": policy,
                    "first": offset,
                    "last": offset + n - 1,
                },
            )
        conn.execute("ANALYZE tickets")


def make_due(url: str, due: int) -> None:
    """`due` tickets whose first-response target passed a minute ago (clock started 5 h ago)."""
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute(
            """UPDATE tickets SET sla_clock_started_at = now() - interval '5 hours',
                   first_response_due_at = now() - interval '1 minute',
                   first_response_breached_at = NULL,
                   sla_next_check_at = now() - interval '1 minute'
               WHERE id IN (SELECT id FROM tickets WHERE first_response_breached_at IS NULL
                            ORDER BY random() LIMIT %s)""",
            (due,),
        )


async def tick() -> tuple[float, dict]:  # type: ignore[type-arg]
    spec = catalog.get_spec(get_settings(), "sla_scan")
    started = time.perf_counter()
    run = await runner.execute(spec, trigger="cli")  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert run is not None and run.status == "succeeded", run.error if run else None
    return elapsed, run.summary


async def explain(url: str) -> str:
    engine = db.get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + SCAN_SQL))
        plan = [r[0] for r in rows]
        await conn.rollback()
    return " | ".join(p.strip() for p in plan if "Index" in p or "Execution" in p)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--due", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    name = f"bench_sla_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain(args.server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(drivername="postgresql+psycopg", database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        from core import migrate

        await asyncio.to_thread(migrate.upgrade, url_text)  # Alembic runs its own loop
        import os

        os.environ["DATABASE_URL"] = url_text
        get_settings.cache_clear()
        db.init_engine("bench-sla")
        requester, team = setup_desk(url_text)
        have = 0
        for size in sizes:
            started = time.perf_counter()
            add_tickets(url_text, requester, team, have + 1, size - have)
            have = size
            print(f"{size:>9,} open tickets (inserted in {time.perf_counter() - started:.0f} s)")
            await tick()  # warm-up
            idle = sorted([(await tick())[0] for _ in range(args.repeat)])
            print(f"  idle tick (nothing due):   median {idle[len(idle) // 2] * 1000:8.1f} ms")
            busy = []
            for _ in range(args.repeat):
                make_due(url_text, args.due)
                elapsed, summary = await tick()
                busy.append(elapsed)
            print(f"  scan query plan: {await explain(url_text)}")
            busy.sort()
            print(
                f"  tick with {args.due} due:        median {busy[len(busy) // 2] * 1000:8.1f} ms"
                f"   (min {busy[0] * 1000:.0f}, max {busy[-1] * 1000:.0f}; "
                f"{summary['breaches']} breaches, {summary['recipients']} notices to people)"
            )
    finally:
        await db.dispose_engine()
        with psycopg.connect(plain(args.server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
