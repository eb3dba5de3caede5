"""bench/web: the agent queue's time to content in Chromium, on localhost, with 100,000 tickets.

    (cd web && npm run build)
    .venv/bin/python -m bench.web.queue_ttc [--tickets 100000] [--runs 15]

A throwaway database gets the desk bench/api generates (COPY: users, teams, tickets, comments and
search documents), one agent gets a password, then the real API (`servicedesk api`) and the
production portal (`next start`) are started and Debian's Chromium opens the queue.

Time to content is `performance.now()` when the first ticket row of the queue is in the DOM:
milliseconds from the start of the navigation, through the HTML, the JavaScript, the session check
(/auth/me) and the ticket list (/tickets), to rows on screen. "cold" opens each run in a new
browser context (empty HTTP cache, the session cookie copied in); "warm" reloads one page.
The API's own time for the same list request is printed alongside (httpx, bearer token).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench.api.generate import generate
from core import migrate
from core.users.passwords import hash_password

PROJECT = Path(__file__).resolve().parents[2]
WEB = PROJECT / "web"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AGENT_EMAIL = "agent0@bench.ac.kr"  # bench/api's first agent (id 2, team 1)
PASSWORD = "bench-password"
VIEWS = {
    "open": {"status": ["new", "open", "pending"]},
    "mine": {"status": ["new", "open", "pending"], "assignee": "me"},
    "my_team": {"status": ["new", "open", "pending"], "team": "mine"},
    "unassigned": {"status": ["new", "open", "pending"], "assignee": "none"},
    "breached": {"status": ["new", "open", "pending"], "sla": "breached"},
    "all": {},
}
ROW = "[data-testid=queue-row], [data-testid=empty-state]"


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url}: not ready after {timeout}s")


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered):6.0f} ms  p90 {p90:6.0f}  "
        f"min {ordered[0]:6.0f}  max {ordered[-1]:6.0f}  (n={len(ordered)})"
    )


def prepare(server: str, tickets: int) -> str:
    name = f"sd_bench_web_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    print(f"database {name}: generating {tickets:,} tickets ...", flush=True)
    facts = generate(plain(url), tickets=tickets, comments_per_ticket=1.5)
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute(
            "UPDATE users SET password_hash = %s WHERE email = %s",
            (hash_password(PASSWORD), AGENT_EMAIL),
        )
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('new','open','pending')) "
            "FROM tickets"
        ).fetchone()
    print(
        f"  {counts[0]:,} tickets ({counts[1]:,} open), {facts['comments']:,} comments, "
        f"{facts['seconds']} s",
        flush=True,
    )
    return url


def drop(url: str) -> None:
    parsed = make_url(url)
    admin = plain(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def api_times(api_url: str, runs: int) -> dict[str, list[float]]:
    token = httpx.post(
        f"{api_url}/api/v1/auth/login", json={"email": AGENT_EMAIL, "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    result: dict[str, list[float]] = {}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
        for view, params in VIEWS.items():
            query = {**params, "sort": "-updated", "limit": 50}
            client.get("/api/v1/tickets", params=query).raise_for_status()  # warm-up
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                client.get("/api/v1/tickets", params=query).raise_for_status()
                times.append((time.perf_counter() - start) * 1000)
            result[view] = times
    return result


def browser_times(web_url: str, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=web_url, viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.goto("/login")
        page.fill("#email", AGENT_EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        page.wait_for_selector(ROW, timeout=60_000)
        session = context.storage_state()

        def measure(target, view: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
            target.goto(f"/tickets?view={view}", wait_until="commit")
            target.wait_for_selector(ROW, timeout=60_000)
            elapsed = target.evaluate("performance.now()")
            rows = target.locator("[data-testid=queue-row]").count()
            return elapsed, rows

        for view in VIEWS:
            cold, warm, script_bytes, rows = [], [], [], 0
            for _ in range(runs):
                fresh = browser.new_context(
                    base_url=web_url, viewport={"width": 1360, "height": 900}, storage_state=session
                )
                fresh_page = fresh.new_page()
                elapsed, rows = measure(fresh_page, view)
                cold.append(elapsed)
                script_bytes.append(
                    fresh_page.evaluate(
                        "performance.getEntriesByType('resource')"
                        ".filter(e => e.initiatorType === 'script')"
                        ".reduce((n, e) => n + e.transferSize, 0)"
                    )
                )
                fresh.close()
            measure(page, view)
            for _ in range(runs):
                page.reload(wait_until="commit")
                page.wait_for_selector(ROW, timeout=60_000)
                warm.append(page.evaluate("performance.now()"))
            print(f"  {view:10} rows {rows:3}  cold {summary(cold)}")
            print(f"  {'':10}           warm {summary(warm)}")
            js_kb = statistics.median(script_bytes) / 1024
            print(f"  {'':10}           JS transferred on a cold load: {js_kb:.1f} kB")
        browser.close()


def start(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "BENCH_DATABASE_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server URL; a throwaway database is created on it and dropped after",
    )
    args = parser.parse_args()
    if not (WEB / ".next" / "BUILD_ID").exists():
        raise SystemExit("build the portal first: (cd web && npm run build)")

    url = prepare(args.server, args.tickets)
    api_port, web_port = free_port(), free_port()
    api_url, web_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{web_port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "JWT_SECRET": "bench-" + "z" * 40,
        "APP_BASE_URL": web_url,
        "API_PUBLIC_URL": api_url,
        "CORS_ORIGINS": web_url,
        "NEXT_PUBLIC_API_BASE_URL": api_url,
        "LOG_LEVEL": "WARNING",
        "NEXT_TELEMETRY_DISABLED": "1",
    }
    logs = Path(tempfile.mkdtemp(prefix="bench-web-"))
    processes = [
        start(
            [
                sys.executable,
                "-m",
                "servicedesk",
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
            ],
            env,
            PROJECT,
            logs / "api.log",
        ),
        start(
            [
                str(WEB / "node_modules" / ".bin" / "next"),
                "start",
                "-p",
                str(web_port),
                "-H",
                "127.0.0.1",
            ],
            env,
            WEB,
            logs / "web.log",
        ),
    ]
    try:
        wait_for(api_url + "/readyz", processes[0])
        wait_for(web_url + "/login", processes[1])
        print(f"API list request (GET /api/v1/tickets, limit 50, httpx), {args.runs} runs:")
        for view, times in api_times(api_url, args.runs).items():
            print(f"  {view:10} {summary(times)}")
        print(f"Time to content in Chromium ({CHROMIUM}), /tickets?view=..., {args.runs} runs:")
        browser_times(web_url, args.runs)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        drop(url)
        print(f"(process logs: {logs})")


if __name__ == "__main__":
    main()
