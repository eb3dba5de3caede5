"""Load: the API at rising request rates while the gateway ingests 50 mails/s.

    .venv/bin/python -m bench.chaos.load [--mail-rate 50] [--rates 10,20,40,60,80,100,120,160]
                                         [--step 20] [--seed-tickets 1000]

A fresh database with `--seed-tickets` tickets (opened through the API by an agent for a few
hundred requesters), real `servicedesk api` and `servicedesk mailgateway` processes. At every
step the API gets an open-loop request rate (requests leave on a fixed schedule whether or not
earlier ones have answered, and latency is counted from the scheduled moment, so a slow server
cannot hide behind a slow client) of an agent's queue work: 70 % the queue (open and new tickets,
newest first, 25 a page), 15 % the queue counts, 15 % one ticket. Meanwhile an SMTP client
offers `--mail-rate` mails/s over 10 connections, also paced, from a process of its own (so a
saturated HTTP load generator cannot slow the mail client down); the report also gives the share
of a core the HTTP generator used, which says when the client rather than the server is the limit.

For each step: API p50/p95/p99 (queue and all), errors, the rate actually achieved; mail
acceptance p50/p99 (from the moment the mail was due to its 250) and the rate achieved; the
inbound queue left behind. A step "holds" when the queue's p99 is under --api-p99 (default
500 ms), acceptance p99 under --mail-p99 (default 1 s), no request failed and both rates were
met (95 %). The report names the highest API rate that held with mail at the full rate.

Everything runs on one machine: the load generator shares the cores with the processes it
measures, so the figures are a floor for a real deployment, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.chaos import harness, peers
from bench.chaos.ledger import queue_depth

QUEUE = "/api/v1/tickets?status=new&status=open&sort=-updated&limit=25"


@dataclass
class Step:
    rate: float
    seconds: float
    sent: int = 0
    answered: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    queue_latencies: list[float] = field(default_factory=list)
    all_latencies: list[float] = field(default_factory=list)
    mail_offered: int = 0
    mail_accepted: int = 0
    mail_latencies: list[float] = field(default_factory=list)
    mail_failures: Counter[str] = field(default_factory=Counter)
    inbound_backlog: int = 0
    client_cpu: float = 0.0  # share of one core the HTTP load generator used
    api_p99_limit: float = 0.5
    mail_p99_limit: float = 1.0

    @property
    def api_rate(self) -> float:
        return self.answered / self.seconds

    @property
    def mail_rate(self) -> float:
        return self.mail_accepted / self.seconds

    @property
    def holds(self) -> bool:
        return (
            not self.errors
            and self.answered >= 0.95 * self.rate * self.seconds
            and harness.percentile(self.queue_latencies, 99) < self.api_p99_limit
            and self.mail_accepted >= 0.95 * self.mail_offered
            and harness.percentile(self.mail_latencies, 99) < self.mail_p99_limit
        )


@dataclass
class LoadConfig:
    mail_rate: float = 50.0
    rates: list[float] = field(default_factory=lambda: [10, 20, 40, 60, 80, 100, 120, 160])
    step_seconds: float = 20.0
    seed_tickets: int = 1000
    api_p99: float = 0.5
    mail_p99: float = 1.0
    max_in_flight: int = 256
    stop_after_failures: int = 2


@dataclass
class LoadResult:
    steps: list[Step] = field(default_factory=list)
    seed_seconds: float = 0.0
    tickets: int = 0

    @property
    def highest_holding(self) -> float | None:
        held = [s.rate for s in self.steps if s.holds]
        return max(held) if held else None


async def seed(api: str, token: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def lane() -> None:
        async with httpx.AsyncClient(base_url=api, headers=headers, timeout=60) as client:
            while not queue.empty():
                n = queue.get_nowait()
                response = await client.post(
                    "/api/v1/tickets",
                    json={
                        "subject": f"{random.choice(['프린터', 'VPN', '계정', 'Wi-Fi'])} 문의 {n}",
                        "body": "확인 부탁드립니다.\n" * 3,
                        "priority": random.choice(["low", "normal", "normal", "high"]),
                        "requester_email": f"student{n % 300:03d}@univ.ac.kr",
                    },
                )
                if response.status_code != 201:
                    raise RuntimeError(f"seeding: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(lane() for _ in range(8)))


async def api_step(
    api: str, token: str, step: Step, ticket_ids: list[int], max_in_flight: int
) -> None:
    """Open loop: request n leaves at start + n/rate; its latency counts from then."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    rng = random.Random(int(step.rate))
    async with httpx.AsyncClient(
        base_url=api, headers=headers, timeout=30, limits=limits
    ) as client:
        start = time.monotonic()
        total = int(step.rate * step.seconds)
        tasks: set[asyncio.Task[None]] = set()

        async def one(due: float, kind: str, url: str) -> None:
            try:
                response = await client.get(url)
                status = response.status_code
            except httpx.HTTPError as exc:
                step.errors[type(exc).__name__] += 1
                return
            took = time.monotonic() - due
            if status != 200:
                step.errors[f"{kind} {status}"] += 1
                return
            step.answered += 1
            step.all_latencies.append(took)
            if kind == "queue":
                step.queue_latencies.append(took)

        for n in range(total):
            due = start + n / step.rate
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            pick = rng.random()
            if pick < 0.70:
                kind, url = "queue", QUEUE
            elif pick < 0.85:
                kind, url = "counts", "/api/v1/tickets/counts"
            else:
                kind, url = "detail", f"/api/v1/tickets/{rng.choice(ticket_ids)}"
            step.sent += 1
            task = asyncio.create_task(one(due, kind, url))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)


async def run_load(
    cfg: LoadConfig,
    *,
    server: str | None = None,
    database_url: str | None = None,
    keep_db: bool = False,
    log=print,
) -> LoadResult:
    """On a fresh database on `server`, or on `database_url` (migrated and empty: the tests')."""
    result = LoadResult()
    own_database = database_url is None
    if database_url is None:
        database_url = harness.create_database(server, prefix="sd_chaos_load")
    work = harness.workdir("load")
    services: list[harness.Service] = []
    try:
        if own_database:
            await asyncio.to_thread(harness.migrate, database_url)
        await peers.create_users(database_url)
        api_port, smtp_port = harness.free_port(), harness.free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        env = harness.base_env(database_url, work, API_PUBLIC_URL=api_url)
        services = harness.api_and_gateway(env, work, api_port=api_port, smtp_port=smtp_port)
        for service in services:
            service.start()
        for service in services:
            await asyncio.to_thread(service.wait_ready, 90)
        agent = await peers.login(api_url, peers.AGENT)
        began = time.monotonic()
        await seed(api_url, agent, cfg.seed_tickets)
        result.seed_seconds = time.monotonic() - began
        ticket_ids = [
            row[0] for row in harness.query(database_url, "SELECT id FROM tickets ORDER BY id")
        ]
        log(f"load: {len(ticket_ids)} tickets seeded in {result.seed_seconds:.0f} s")
        run_id = uuid.uuid4().hex[:8]
        failures = 0
        for rate in cfg.rates:
            step = Step(
                rate, cfg.step_seconds, api_p99_limit=cfg.api_p99, mail_p99_limit=cfg.mail_p99
            )
            # The mail client runs in a process of its own: its latencies must not include the
            # lag of this process's event loop when the HTTP load saturates it.
            mailer = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.chaos.smtpload",
                "--port",
                str(smtp_port),
                "--n",
                str(int(cfg.mail_rate * cfg.step_seconds)),
                "--rate",
                str(cfg.mail_rate),
                "--run-id",
                f"{run_id}{int(rate)}",
                "--seed",
                str(int(rate)),
                "--max-seconds",
                str(cfg.step_seconds + 30),
                stdout=asyncio.subprocess.PIPE,
                cwd=harness.PROJECT_DIR,
            )
            cpu_before = time.process_time()
            await api_step(api_url, agent, step, ticket_ids, cfg.max_in_flight)
            step.client_cpu = (time.process_time() - cpu_before) / cfg.step_seconds
            out, _ = await mailer.communicate()
            outcome = json.loads(out.decode().strip().splitlines()[-1])
            step.mail_offered = outcome["offered"]
            step.mail_accepted = outcome["accepted"]
            step.mail_latencies = outcome["since_due"]
            step.mail_failures = Counter(outcome["failures"])
            step.inbound_backlog = await asyncio.to_thread(queue_depth, database_url)
            result.steps.append(step)
            log(
                f"  {rate:>5g} req/s: queue p99 "
                f"{harness.ms(harness.percentile(step.queue_latencies, 99))}, mail p99 "
                f"{harness.ms(harness.percentile(step.mail_latencies, 99))}, errors "
                f"{sum(step.errors.values())}, {'holds' if step.holds else 'does not hold'}"
            )
            failures = 0 if step.holds else failures + 1
            if failures >= cfg.stop_after_failures:
                break
            # Let the pipeline catch up a little so each step starts from a similar backlog.
            await harness.until_async(
                lambda: queue_depth(database_url) < 50, seconds=30, interval=1
            )
        result.tickets = int(harness.scalar(database_url, "SELECT count(*) FROM tickets") or 0)
        return result
    finally:
        for service in services:
            service.stop()
        if own_database and not keep_db:
            harness.drop_database(database_url)
        harness.discard(work)


def report(result: LoadResult, cfg: LoadConfig, rep: harness.Report) -> None:
    pct, ms = harness.percentile, harness.ms
    rep.add(
        f"load: agent queue work at rising rates while SMTP offers {cfg.mail_rate:g} mails/s; "
        f"{cfg.step_seconds:g} s a step; {cfg.seed_tickets} tickets seeded "
        f"({result.seed_seconds:.0f} s through the API)"
    )
    rep.add(
        f"  holds = queue p99 < {ms(cfg.api_p99)}, acceptance p99 < {ms(cfg.mail_p99)}, "
        "no errors, both rates met (95 %); latency from the scheduled moment (open loop)"
    )
    rep.add("")
    rep.add(
        "  target  achieved | queue p50   p95     p99    | all p99  | errors | mail/s  "
        "accept p50  p99     | backlog | client CPU | holds"
    )
    for s in result.steps:
        rep.add(
            f"  {s.rate:>6g}  {s.api_rate:>7.1f}  | {ms(pct(s.queue_latencies, 50)):>8} "
            f"{ms(pct(s.queue_latencies, 95)):>8} {ms(pct(s.queue_latencies, 99)):>8} | "
            f"{ms(pct(s.all_latencies, 99)):>8} | {sum(s.errors.values()):>6} | "
            f"{s.mail_rate:>6.1f}  {ms(pct(s.mail_latencies, 50)):>8} "
            f"{ms(pct(s.mail_latencies, 99)):>8} | {s.inbound_backlog:>7} | "
            f"{s.client_cpu:>9.0%} | {'yes' if s.holds else 'no'}"
        )
        if s.errors:
            rep.add(f"          errors: {dict(s.errors.most_common(4))}")
        if s.mail_failures:
            rep.add(f"          mail retries: {dict(s.mail_failures.most_common(4))}")
    rep.add("")
    best = result.highest_holding
    rep.add(
        f"highest API rate that held with mail at {cfg.mail_rate:g}/s: "
        + (f"{best:g} req/s" if best is not None else "none of the steps")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mail-rate", type=float, default=50.0)
    parser.add_argument("--rates", default="10,20,40,60,80,100,120,160", help="API req/s a step")
    parser.add_argument("--step", type=float, default=20.0, help="seconds per step")
    parser.add_argument("--seed-tickets", type=int, default=1000)
    parser.add_argument("--api-p99", type=float, default=0.5, help="seconds")
    parser.add_argument("--mail-p99", type=float, default=1.0, help="seconds")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    cfg = LoadConfig(
        mail_rate=args.mail_rate,
        rates=[float(r) for r in args.rates.split(",")],
        step_seconds=args.step,
        seed_tickets=args.seed_tickets,
        api_p99=args.api_p99,
        mail_p99=args.mail_p99,
    )
    rep = harness.Report("load", "Chaos: load (API rate steps while the gateway ingests mail)")
    result = asyncio.run(run_load(cfg, keep_db=args.keep_db))
    report(result, cfg, rep)
    if not args.no_report:
        verdict = f"highest holding rate {result.highest_holding}" if result.steps else "no steps"
        rep.write(harness.command_line(), verdict=verdict)


if __name__ == "__main__":
    main()
