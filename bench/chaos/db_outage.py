"""Database outage: PostgreSQL stopped for 30 s under load, then started again.

    .venv/bin/python -m bench.chaos.db_outage [--outage 30] [--smtp-rate 10]

A DEDICATED PostgreSQL cluster (servicedesk/devdb.py's EmbeddedPostgres in a temporary directory
on a free port) so it can be stopped without touching anyone else's; against it, real
`servicedesk api`, `servicedesk mailgateway` and `servicedesk scheduler` processes (the scheduler
also runs the outbound sender, pointed at a recording relay on 127.0.0.1). Load throughout: an
SMTP client offering mail at a steady rate (retrying whatever gets no 250), API readers (queue,
counts, a ticket, me, readyz, healthz) and an API writer opening tickets (retrying 503s). Then
`pg_ctl stop -m fast` (every open connection is cut), `--outage` seconds down, `pg_ctl start`.

Checked:
* the gateway answers no 250 while the database is down (4xx only), and afterwards every mail
  that got a 250 is one ticket or comment, none twice;
* the API answers 503 (never 500, never a hang) while it is down, /healthz stays 200, and every
  ticket whose POST got a 201 exists exactly once;
* the scheduler survives, leaves no run `running`, records the runs the outage broke as failed,
  and runs its jobs again afterwards; the outbound sender hands no mail over twice.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.chaos import harness, peers
from bench.chaos.ledger import MailLedger, drain, reconcile
from bench.chaos.smtpload import SmtpLoad, build_mails
from servicedesk.devdb import EmbeddedPostgres

DB_ENDPOINTS = ("tickets list", "tickets counts", "ticket detail", "me", "ticket create")


@dataclass
class OutageConfig:
    outage_seconds: float = 30.0
    warmup_seconds: float = 15.0
    recovery_seconds: float = 30.0
    smtp_rate: float = 10.0
    smtp_connections: int = 8
    api_readers: int = 4
    api_write_rate: float = 2.0
    settle_seconds: float = 240.0
    outbound_wait: float = 420.0
    scheduler: bool = True
    seed: int = 1


@dataclass
class OutageResult:
    ledger: MailLedger = field(default_factory=MailLedger)
    smtp_codes: Counter[str] = field(default_factory=Counter)
    smtp_250_during_outage: int = 0
    smtp_never_accepted: int = 0
    smtp_bounced: int = 0
    api_by_phase: dict[str, Counter[int]] = field(default_factory=dict)
    api_500: list[str] = field(default_factory=list)
    api_outage_not_503: Counter[str] = field(default_factory=Counter)
    healthz_outage: Counter[int] = field(default_factory=Counter)
    api_hangs: int = 0
    tickets_created: int = 0
    tickets_duplicated: int = 0
    tickets_missing: int = 0
    tickets_never_created: int = 0
    job_runs: Counter[str] = field(default_factory=Counter)
    job_runs_stuck: int = 0
    job_runs_failed_outage: list[str] = field(default_factory=list)
    job_runs_after: int = 0
    outbound_sent: int = 0
    outbound_pending: int = 0
    outbound_by_status: dict[str, int] = field(default_factory=dict)
    outbound_drain_seconds: float = 0.0
    relay_received: int = 0
    relay_duplicates: dict[str, int] = field(default_factory=dict)
    died: list[str] = field(default_factory=list)
    scheduler: bool = True
    stop_seconds: float = 0.0
    start_seconds: float = 0.0
    recovered_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.ledger.ok
            and self.smtp_250_during_outage == 0
            and self.smtp_never_accepted == 0
            and self.smtp_bounced == 0
            and not self.api_500
            and not self.api_outage_not_503
            and self.tickets_duplicated == 0
            and self.tickets_missing == 0
            and self.tickets_never_created == 0
            and self.job_runs_stuck == 0
            and (not self.scheduler or (self.job_runs_failed_outage and self.job_runs_after > 0))
            and not self.relay_duplicates
            and self.outbound_pending == 0
            and not self.died
        )


class Timeline:
    def __init__(self) -> None:
        self.phase = "before"
        self.listeners: list[object] = []

    def set(self, phase: str) -> None:
        self.phase = phase
        for listener in self.listeners:
            listener.phase = phase  # type: ignore[attr-defined]


async def _reader(
    api: str, token: str, recorder: peers.ApiRecorder, stop: asyncio.Event, ticket_ids: list[int]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=20) as client:
        while not stop.is_set():
            await recorder.call(client, "GET", "/api/v1/tickets?limit=20", name="tickets list")
            await recorder.call(client, "GET", "/api/v1/tickets/counts", name="tickets counts")
            if ticket_ids:
                tid = random.choice(ticket_ids)
                await recorder.call(client, "GET", f"/api/v1/tickets/{tid}", name="ticket detail")
            await recorder.call(client, "GET", "/api/v1/auth/me", name="me")
            await recorder.call(client, "GET", "/readyz", name="readyz")
            await recorder.call(client, "GET", "/healthz", name="healthz")
            await asyncio.sleep(0.1)


async def _writer(
    api: str,
    token: str,
    recorder: peers.ApiRecorder,
    stop: asyncio.Event,
    rate: float,
    run_id: str,
    created: dict[str, int],
    wanted: list[str],
    ticket_ids: list[int],
    settle_seconds: float,
) -> None:
    """Open tickets at `rate`/s; a 503 or no answer is retried until a 201 (or, after `stop`,
    for at most `settle_seconds`)."""
    headers = {"Authorization": f"Bearer {token}"}
    backlog: list[str] = []
    n = 0
    stopped_at: float | None = None
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=20) as client:
        while not stop.is_set() or backlog:
            if not stop.is_set():
                subject = f"API-{run_id}-{n:05d} 모니터 고장"
                n += 1
                wanted.append(subject)
                backlog.append(subject)
            for subject in list(backlog):
                response = await recorder.call(
                    client,
                    "POST",
                    "/api/v1/tickets",
                    name="ticket create",
                    json={"subject": subject, "body": "화면이 깜빡입니다.\n" + subject},
                )
                if response is not None and response.status_code == 201:
                    backlog.remove(subject)
                    created[subject] = response.json()["id"]
                    ticket_ids.append(created[subject])
                elif response is not None and response.status_code not in (503,):
                    backlog.remove(subject)  # refused for good: counted in the statuses
                else:
                    break  # the database is away: wait before trying the backlog again
            if stop.is_set():
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > settle_seconds:
                    return
                await asyncio.sleep(0.5)
            else:
                await asyncio.sleep(1 / rate)


async def run_outage(cfg: OutageConfig, *, keep: bool = False, log=print) -> OutageResult:
    result = OutageResult(scheduler=cfg.scheduler)
    work = harness.workdir("outage")
    cluster = EmbeddedPostgres(work / "pg", port=harness.free_port())
    relay = peers.RelaySink()
    services: list[harness.Service] = []
    run_id = uuid.uuid4().hex[:8]
    try:
        database_url = await asyncio.to_thread(cluster.start)
        log(f"db_outage: dedicated PostgreSQL on port {cluster.port} ({cluster.root})")
        await asyncio.to_thread(harness.migrate, database_url)
        await peers.create_users(database_url)
        relay.start()
        api_port, smtp_port = harness.free_port(), harness.free_port()
        env = harness.base_env(
            database_url,
            work,
            MAIL_RETRY_BASE_SECONDS="2",
            MAIL_LEASE_SECONDS="15",
            SCHEDULER_TICK_SECONDS="1",
            SCHEDULER_SLA_SCAN_SECONDS="2",
            SCHEDULER_MISFIRE_GRACE_SECONDS="5",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(relay.port),
            API_PUBLIC_URL=f"http://127.0.0.1:{api_port}",
        )
        api = harness.Service(
            "api", ["api", "--host", "127.0.0.1", "--port", str(api_port)], env, work, port=api_port
        )
        gateway = harness.Service(
            "mailgateway",
            ["mailgateway", "--host", "127.0.0.1", "--port", str(smtp_port)],
            env,
            work,
            port=smtp_port,
        )
        services = [api, gateway]
        if cfg.scheduler:
            services.append(harness.Service("scheduler", ["scheduler"], env, work))
        for service in services:
            service.start()
        for service in services:
            await asyncio.to_thread(service.wait_ready, 60)
        base = f"http://127.0.0.1:{api_port}"
        agent = await peers.login(base, peers.AGENT)
        requester = await peers.login(base, peers.REQUESTER)

        total_seconds = cfg.warmup_seconds + cfg.outage_seconds + cfg.recovery_seconds
        mails = build_mails(int(cfg.smtp_rate * total_seconds), run_id=run_id, seed=cfg.seed)
        load = SmtpLoad(
            smtp_port,
            mails,
            connections=cfg.smtp_connections,
            rate=cfg.smtp_rate,
            max_seconds=total_seconds + cfg.settle_seconds,
            retry_delay=1.0,
        )
        recorder = peers.ApiRecorder()
        timeline = Timeline()
        timeline.listeners += [load, recorder]
        timeline.set("before")
        stop_api = asyncio.Event()
        created: dict[str, int] = {}
        wanted: list[str] = []
        ticket_ids: list[int] = []
        smtp_task = asyncio.create_task(load.run())
        tasks = [
            asyncio.create_task(_reader(base, agent, recorder, stop_api, ticket_ids))
            for _ in range(cfg.api_readers)
        ]
        tasks.append(
            asyncio.create_task(
                _writer(
                    base,
                    requester,
                    recorder,
                    stop_api,
                    cfg.api_write_rate,
                    run_id,
                    created,
                    wanted,
                    ticket_ids,
                    cfg.settle_seconds,
                )
            )
        )
        await asyncio.sleep(cfg.warmup_seconds)

        log(f"  stopping PostgreSQL (pg_ctl stop -m fast) for {cfg.outage_seconds:.0f} s")
        # "stopping" and "starting" are the seconds pg_ctl takes: whatever answers then is
        # neither clearly before, during nor after the outage, and is only checked for 500s.
        timeline.set("stopping")
        began = time.monotonic()
        outage_started = datetime.now(UTC)
        await asyncio.to_thread(cluster.stop)
        result.stop_seconds = time.monotonic() - began
        timeline.set("outage")
        await asyncio.sleep(cfg.outage_seconds)
        timeline.set("starting")
        began = time.monotonic()
        await asyncio.to_thread(cluster.start)
        timeline.set("recovery")
        outage_ended = datetime.now(UTC)
        result.start_seconds = time.monotonic() - began
        log(f"  PostgreSQL back after {result.start_seconds:.1f} s of pg_ctl start")
        recovered_at = time.monotonic()
        await asyncio.sleep(cfg.recovery_seconds)
        timeline.set("final")
        stop_api.set()
        outcome = await smtp_task
        await asyncio.gather(*tasks)
        log("  load stopped; waiting for the pipeline to drain")
        await drain(database_url, stall_seconds=120)
        # Let the sender catch up: rows it had claimed when the database went away wait for
        # their lease (5 minutes) before another attempt, by design.
        began = time.monotonic()
        await harness.until_async(
            lambda: _outbound_pending(database_url) == 0, seconds=cfg.outbound_wait, interval=2
        )
        result.outbound_drain_seconds = time.monotonic() - began
        await asyncio.sleep(3)

        for service in services:
            if not service.alive():
                result.died.append(f"{service.name}: exit {service.proc.returncode}")  # type: ignore[union-attr]
        _recovery_times(recorder, recovered_at, result)
        result.smtp_codes = outcome.codes_by_phase
        result.smtp_250_during_outage = outcome.codes_by_phase["outage 250"]
        result.smtp_never_accepted = len(outcome.pending)
        result.smtp_bounced = len(outcome.bounced)
        result.ledger = await asyncio.to_thread(
            reconcile, database_url, run_id, mails, outcome.accepted
        )
        _check_api(recorder, result)
        await asyncio.to_thread(_check_tickets, database_url, run_id, created, wanted, result)
        if cfg.scheduler:
            await asyncio.to_thread(_check_jobs, database_url, outage_started, outage_ended, result)
        result.outbound_sent = int(
            harness.scalar(
                database_url, "SELECT count(*) FROM outbound_emails WHERE status = 'sent'"
            )
            or 0
        )
        result.outbound_pending = _outbound_pending(database_url)
        result.outbound_by_status = dict(
            harness.query(
                database_url, "SELECT status, count(*) FROM outbound_emails GROUP BY status"
            )
        )
        result.relay_received = len(relay.mails)
        result.relay_duplicates = relay.duplicates()
        return result
    finally:
        for service in services:
            service.stop()
        relay.stop()
        if not keep:
            await asyncio.to_thread(cluster.stop)
            harness.discard(work)


def _outbound_pending(database_url: str) -> int:
    return int(
        harness.scalar(
            database_url,
            "SELECT count(*) FROM outbound_emails WHERE status IN ('queued', 'sending')",
        )
        or 0
    )


def _recovery_times(recorder: peers.ApiRecorder, recovered_at: float, result: OutageResult) -> None:
    """Seconds after `pg_ctl start` returned until each endpoint answered 2xx again."""
    for call in recorder.calls:
        if call.at >= recovered_at and 200 <= call.status < 300:
            result.recovered_seconds.setdefault(call.name, call.at + call.seconds - recovered_at)


def _check_api(recorder: peers.ApiRecorder, result: OutageResult) -> None:
    result.api_by_phase = recorder.by_phase()
    for call in recorder.calls:
        if call.status >= 500 and call.status != 503:
            result.api_500.append(f"{call.phase} {call.name} {call.status} {call.error[:120]}")
        if call.status == 0:
            result.api_hangs += 1
        if call.phase == "outage":
            if call.name == "healthz":
                result.healthz_outage[call.status] += 1
            elif call.name in DB_ENDPOINTS and call.status != 503:
                result.api_outage_not_503[f"{call.name} {call.status} {call.error[:60]}"] += 1
            elif call.name == "readyz" and call.status != 503:
                result.api_outage_not_503[f"readyz {call.status}"] += 1


def _check_tickets(
    database_url: str,
    run_id: str,
    created: dict[str, int],
    wanted: list[str],
    result: OutageResult,
) -> None:
    counts = Counter(
        subject
        for (subject,) in harness.query(
            database_url, "SELECT subject FROM tickets WHERE subject LIKE %s", [f"API-{run_id}-%"]
        )
    )
    result.tickets_created = len(created)
    result.tickets_duplicated = sum(1 for n in counts.values() if n > 1)
    result.tickets_missing = sum(1 for subject in created if counts[subject] != 1)
    result.tickets_never_created = sum(1 for subject in wanted if subject not in created)


def _check_jobs(
    database_url: str, outage_started: datetime, outage_ended: datetime, result: OutageResult
) -> None:
    for status, count in harness.query(
        database_url, "SELECT status, count(*) FROM job_runs GROUP BY status"
    ):
        result.job_runs[status] = count
    result.job_runs_stuck = result.job_runs["running"]
    for job_id, scheduled_for, error in harness.query(
        database_url,
        "SELECT job_id, coalesce(scheduled_for, started_at), error FROM job_runs "
        "WHERE status = 'failed' AND coalesce(scheduled_for, started_at) BETWEEN %s AND %s "
        "ORDER BY 2",
        [outage_started, outage_ended],
    ):
        first = (error or "").splitlines()[0][:90] if error else ""
        result.job_runs_failed_outage.append(f"{job_id} tick {scheduled_for:%H:%M:%S}: {first}")
    result.job_runs_after = int(
        harness.scalar(
            database_url,
            "SELECT count(*) FROM job_runs WHERE status = 'succeeded' AND started_at > %s",
            [outage_ended],
        )
        or 0
    )


def report(result: OutageResult, cfg: OutageConfig, rep: harness.Report) -> None:
    rep.add(
        f"db_outage: PostgreSQL down {cfg.outage_seconds:.0f} s (pg_ctl stop -m fast took "
        f"{result.stop_seconds:.1f} s, start {result.start_seconds:.1f} s); warm-up "
        f"{cfg.warmup_seconds:.0f} s, recovery load {cfg.recovery_seconds:.0f} s"
    )
    rep.add(
        f"  load: SMTP {cfg.smtp_rate:g} mails/s offered over {cfg.smtp_connections} connections; "
        f"API {cfg.api_readers} readers + tickets opened at {cfg.api_write_rate:g}/s"
    )
    rep.add("")
    rep.add("SMTP gateway")
    for phase in ("before", "stopping", "outage", "starting", "recovery", "final"):
        codes = {k.split()[1]: v for k, v in result.smtp_codes.items() if k.startswith(phase + " ")}
        rep.row(f"answers {phase}", dict(sorted(codes.items())))
    rep.row("250 while the database was down", result.smtp_250_during_outage)
    result.ledger.rows(rep)
    rep.row(
        "bounced (5xx) / never accepted", f"{result.smtp_bounced} / {result.smtp_never_accepted}"
    )
    rep.add("")
    rep.add("API")
    for phase, counts in sorted(result.api_by_phase.items()):
        rep.row(f"answers {phase}", dict(sorted(counts.items())))
    rep.row("5xx other than 503", len(result.api_500))
    rep.row("during the outage, not 503", dict(result.api_outage_not_503) or 0)
    rep.row("/healthz during the outage", dict(result.healthz_outage))
    rep.row("no answer (refused/timeout)", result.api_hangs)
    rep.row(
        "2xx again after pg_ctl start",
        {k: f"{v:.1f} s" for k, v in sorted(result.recovered_seconds.items())},
    )
    rep.row("tickets opened (201)", result.tickets_created)
    rep.row(
        "  duplicated / missing / never",
        f"{result.tickets_duplicated} / {result.tickets_missing} / {result.tickets_never_created}",
    )
    for item in result.api_500[:5]:
        rep.add(f"  ! {item}")
    rep.add("")
    rep.add("Scheduler and sender")
    rep.row("job runs by status", dict(sorted(result.job_runs.items())))
    rep.row("runs left running", result.job_runs_stuck)
    rep.row("succeeded runs after recovery", result.job_runs_after)
    rep.row("failed runs for outage ticks", len(result.job_runs_failed_outage))
    for item in result.job_runs_failed_outage[:4]:
        rep.add(f"    {item}")
    rep.row("outbound by status", dict(sorted(result.outbound_by_status.items())))
    rep.row("outbound queue empty after", f"{result.outbound_drain_seconds:.0f} s")
    rep.row("mails the relay received", result.relay_received)
    rep.row("handed to the relay twice", len(result.relay_duplicates))
    rep.row("processes that died", result.died or 0)
    rep.add("")
    rep.add(
        f"lost = {result.ledger.missing + result.tickets_missing}, duplicated = "
        f"{result.ledger.duplicates + result.tickets_duplicated + len(result.relay_duplicates)}, "
        f"250 during outage = {result.smtp_250_during_outage}, API 500 = {len(result.api_500)}: "
        + ("PASS" if result.ok else "FAIL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outage", type=float, default=30.0, help="seconds PostgreSQL is down")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--recovery", type=float, default=30.0)
    parser.add_argument("--smtp-rate", type=float, default=10.0, help="mails/s offered")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    cfg = OutageConfig(
        outage_seconds=args.outage,
        warmup_seconds=args.warmup,
        recovery_seconds=args.recovery,
        smtp_rate=args.smtp_rate,
    )
    rep = harness.Report("db_outage", "Chaos: database outage (PostgreSQL stopped under load)")
    result = asyncio.run(run_outage(cfg, keep=args.keep))
    report(result, cfg, rep)
    if not args.no_report:
        rep.write(harness.command_line(), verdict="PASS" if result.ok else "FAIL")
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
