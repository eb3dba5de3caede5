"""bench/api: the API at a university's scale, in one command.

    .venv/bin/python -m bench.api [--tickets 1000000] [--reuse] [--requests 200]

Builds `sd_bench_api` on the PostgreSQL of TEST_DATABASE_URL (default 127.0.0.1:5432) with
1,000,000 tickets and ~3,000,000 comments (COPY; `--reuse` keeps an existing one), starts the API
(uvicorn, one process) and a bare FastAPI JSON endpoint, then prints p50/p95/p99 for the agent
queue (open, one team, newest first, page 1 and page 50), a requester's own tickets, search
(English word, Korean word, Korean substring), a ticket's detail and its 50 comments; requests/s of
the queue against the bare endpoint in the same run; the API process's peak RSS (VmHWM); and the
database's share of each scenario (EXPLAIN ANALYZE of every statement it sends) and the plan
of the slowest statement. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench.api.generate import generate
from core import migrate

PROJECT = Path(__file__).resolve().parents[2]
DB_NAME = "sd_bench_api"
os.environ.setdefault("JWT_SECRET", "bench-secret-" + "x" * 40)


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(tickets: int, reuse: bool) -> tuple[str, dict]:
    server = os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    url = make_url(server).set(database=DB_NAME).render_as_string(hide_password=False)
    with psycopg.connect(plain(server), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if exists and not reuse:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    if not exists:
        print(f"migrating {DB_NAME} ...", flush=True)
        migrate.upgrade(url, "head")
        print(f"generating {tickets:,} tickets (COPY) ...", flush=True)
        info = generate(plain(url), tickets=tickets, comments_per_ticket=3.0)
        print(f"generated in {info['seconds']} s", flush=True)
    with psycopg.connect(plain(url)) as conn:
        count, comments, last = conn.execute(
            "SELECT count(*), (SELECT count(*) FROM comments), max(id) FROM tickets"
        ).fetchone()
    info = {
        "tickets": count,
        "comments": comments,
        "heavy_requester": 2 + 120,
        "detail_ticket": last,
        "agent": 2,
        "team": 1,
    }
    return url, info


def start(app: str, port: int, env: dict[str, str], *, factory: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log"]
    if factory:
        args.append("--factory")
    return subprocess.Popen(args, cwd=PROJECT, env=env)


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (what a request costs, whatever the load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def latency(
    client: httpx.AsyncClient, url: str, params: dict, headers: dict, n: int
) -> list[float]:
    for _ in range(5):  # warm-up
        (await client.get(url, params=params, headers=headers)).raise_for_status()
    times = []
    for _ in range(n):
        began = time.perf_counter()
        response = await client.get(url, params=params, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return times


async def throughput(
    url: str, params: dict, headers: dict, seconds: float, concurrency: int
) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < stop:
            response = await client.get(url, params=params, headers=headers)
            response.raise_for_status()
            done += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        began = time.monotonic()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return done / (time.monotonic() - began)


async def measure(
    api: str, bare: str, info: dict, token_agent: str, token_requester: str, n: int, api_pid: int
) -> dict:
    agent = {"Authorization": f"Bearer {token_agent}"}
    requester = {"Authorization": f"Bearer {token_requester}"}
    queue = {"status": "open", "team": str(info["team"]), "sort": "-created", "limit": 50}
    results: dict[str, list[float]] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        cursor = None
        for _ in range(49):  # walk to page 50 once, as an agent paging would
            page = (
                await client.get(
                    f"{api}/api/v1/tickets",
                    params={**queue, **({"cursor": cursor} if cursor else {})},
                    headers=agent,
                )
            ).json()
            cursor = page["next_cursor"]
        scenarios = {
            "queue: open, team, newest first, page 1": (f"{api}/api/v1/tickets", queue, agent),
            "queue: same, page 50 (keyset cursor)": (
                f"{api}/api/v1/tickets",
                {**queue, "cursor": cursor},
                agent,
            ),
            "requester: own tickets": (f"{api}/api/v1/tickets", {"limit": 25}, requester),
            "search: English word (printer)": (
                f"{api}/api/v1/tickets",
                {"q": "printer", "limit": 25},
                agent,
            ),
            "search: Korean word (프린터)": (
                f"{api}/api/v1/tickets",
                {"q": "프린터", "limit": 25},
                agent,
            ),
            "search: Korean substring (인쇄)": (
                f"{api}/api/v1/tickets",
                {"q": "인쇄", "limit": 25},
                agent,
            ),
            "search: rare word (matlab) as requester": (
                f"{api}/api/v1/tickets",
                {"q": "matlab", "limit": 25},
                requester,
            ),
            "ticket detail": (f"{api}/api/v1/tickets/{info['detail_ticket']}", {}, agent),
            "ticket comments (50)": (
                f"{api}/api/v1/tickets/{info['detail_ticket']}/comments",
                {},
                agent,
            ),
        }
        for name, (url, params, headers) in scenarios.items():
            cpu_before = cpu_seconds(api_pid)
            results[name] = await latency(client, url, params, headers, n)
            cpu_ms = (cpu_seconds(api_pid) - cpu_before) * 1000 / (n + 5)
            r = results[name]
            print(
                f"  {name:45s} p50 {pct(r, 50):7.1f}  p95 {pct(r, 95):7.1f}"
                f"  p99 {pct(r, 99):7.1f} ms  (API CPU {cpu_ms:5.1f} ms/request)",
                flush=True,
            )
    rates = {}
    for label, url, params, headers in (
        ("bare FastAPI JSON", f"{bare}/bare", {}, {}),
        ("queue page 1", f"{api}/api/v1/tickets", queue, agent),
        ("bare FastAPI JSON (again)", f"{bare}/bare", {}, {}),
        ("queue page 1 (again)", f"{api}/api/v1/tickets", queue, agent),
    ):
        rates[label] = await throughput(url, params, headers, 10, 16)
        print(f"  {label:30s} {rates[label]:8.0f} req/s", flush=True)
    return {"latency": results, "rates": rates, "scenarios": scenarios}


def capture_statements(url: str, path: str, params: dict, user_id: int) -> list[tuple[str, object]]:
    """Run a scenario's core reads in-process and return the SQL statements they send."""
    from sqlalchemy import event

    from core import db
    from core.models import User
    from core.tickets import queries

    statements: list[tuple[str, object]] = []

    async def run() -> None:
        engine = db.create_engine("bench", url=url)
        db.use_engine(engine)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def capture(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        async with db.get_sessionmaker()() as session:
            user = await session.get(User, user_id)
            statements.clear()  # only the scenario's own reads
            if path.endswith("/comments"):
                await queries.list_comments(session, user=user, ticket_id=int(path.split("/")[-2]))
            elif path.rstrip("/").split("/")[-1].isdigit():
                await queries.ticket_detail(session, user=user, ticket_id=int(path.split("/")[-1]))
            else:
                filters = queries.TicketFilters(
                    status=[params["status"]] if "status" in params else [],
                    team=params.get("team"),
                    q=params.get("q"),
                    sort=params.get("sort", "-updated"),
                    cursor=params.get("cursor"),
                    limit=int(params.get("limit", 25)),
                )
                await queries.list_tickets(session, user=user, filters=filters)
        await engine.dispose()

    asyncio.run(run())
    return statements


def database_times(url: str, scenarios: dict, info: dict) -> tuple[dict[str, float], tuple]:
    """EXPLAIN ANALYZE every statement of every scenario: the database's share of each request
    (independent of how loaded the API's CPU is), and the single slowest statement with its plan."""
    totals: dict[str, float] = {}
    worst: tuple = (0.0, "", None, [], "")
    with psycopg.connect(plain(url)) as conn:
        for name, (endpoint, params, _) in scenarios.items():
            user_id = info["heavy_requester"] if "requester" in name else info["agent"]
            path = endpoint.split("://", 1)[1].split("/", 1)[1]
            total = 0.0
            for statement, parameters in capture_statements(url, "/" + path, params, user_id):
                rows = conn.execute(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                ).fetchall()
                plan = [r[0] for r in rows]
                took = float(plan[-1].split(":")[1].split()[0])
                total += took
                if took > worst[0]:
                    worst = (took, statement, parameters, plan, name)
            totals[name] = total
    return totals, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database")
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario")
    args = parser.parse_args()

    url, info = prepare_database(args.tickets, args.reuse)
    print(f"desk: {info['tickets']:,} tickets, {info['comments']:,} comments", flush=True)
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "APP_ENV": "test"}
    api_port, bare_port = free_port(), free_port()
    api = start("api.app:create_app", api_port, env, factory=True)
    bare = start("bench.api.bare:app", bare_port, env, factory=False)
    try:
        api_url, bare_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
        wait_ready(f"{api_url}/readyz")
        wait_ready(f"{bare_url}/bare")
        from core.auth.jwt import issue_access_token

        print("latency (sequential, one client):", flush=True)
        out = asyncio.run(
            measure(
                api_url,
                bare_url,
                info,
                issue_access_token(user_id=info["agent"]),
                issue_access_token(user_id=info["heavy_requester"]),
                args.requests,
                api.pid,
            )
        )
        rates = out["rates"]
        ratio = (rates["queue page 1"] + rates["queue page 1 (again)"]) / (
            rates["bare FastAPI JSON"] + rates["bare FastAPI JSON (again)"]
        )
        print(f"  queue / bare ratio: {ratio:.2f}")
        print(f"API process peak RSS (VmHWM): {peak_rss_mb(api.pid):.0f} MB")
        print("database time per request (sum of EXPLAIN ANALYZE execution times):")
        totals, worst = database_times(url, out["scenarios"], info)
        for name, total in totals.items():
            print(f"  {name:45s} {total:7.2f} ms")
        took, statement, parameters, plan, name = worst
        print(
            f"\nslowest statement: {took:.2f} ms, in '{name}'\n{statement}\n"
            f"parameters: {parameters}\n"
        )
        print("\n".join(plan))
    finally:
        for process in (api, bare):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
