"""Replicas: two of every process against one database.

    .venv/bin/python -m bench.chaos.replicas [--mails 300] [--flows 60] [--sla-wait 150]

A fresh database; two each of `servicedesk api`, `mailgateway` (with its pipeline workers),
`mailworker`, `mailsender` and `scheduler` (which also runs a sender: six senders in all), the
outbound relay played by a recording SMTP listener. A 24x7 calendar and an SLA policy of one
minute to first response and two to resolution (reminders at half) make the scheduler's SLA scan
send reminders and breach notices during the run.

Load: mail split across both gateways (a third of it replies to earlier mail), and a
round-robin API client that works each ticket across the two replicas: the requester opens it on
one, reads it back at once on the other, an agent assigns it on one and (for half of them)
answers on the other, and every change is read back from the replica that did not make it.

Checked: every accepted mail is exactly one ticket or comment; every API ticket and comment
exists once; no outbox row, relay hand-over, in-app notification or SLA notice is doubled; each
scheduled tick of each job ran once (and the ticks kept coming); every read on the other replica
saw the write; both replicas give the same counts at the end; no process died.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.chaos import harness, peers
from bench.chaos.ledger import MailLedger, drain, reconcile
from bench.chaos.smtpload import SmtpLoad, build_mails

PROCESSES = ("api", "mailgateway", "mailworker", "mailsender", "scheduler")


@dataclass
class ReplicaConfig:
    mails: int = 300
    mail_rate: float = 5.0
    flows: int = 60
    flow_rate: float = 1.0
    sla_wait: float = 150.0
    scan_seconds: float = 5.0
    processes: tuple[str, ...] = PROCESSES  # the test suite runs fewer kinds
    sla: bool = True  # a one-minute SLA policy, and waiting for its notices


@dataclass
class ReplicaResult:
    ledger: MailLedger = field(default_factory=MailLedger)
    flows: int = 0
    flow_failures: list[str] = field(default_factory=list)
    stale_reads: list[str] = field(default_factory=list)
    api_tickets_duplicated: int = 0
    api_comments_duplicated: int = 0
    outbound_duplicates: int = 0
    relay_duplicates: dict[str, int] = field(default_factory=dict)
    relay_received: int = 0
    outbound_by_status: dict[str, int] = field(default_factory=dict)
    outbound_by_kind: dict[str, int] = field(default_factory=dict)
    notification_duplicates: list[str] = field(default_factory=list)
    notifications: int = 0
    sla_notices: dict[str, int] = field(default_factory=dict)
    sla_duplicates: int = 0
    job_runs: dict[str, int] = field(default_factory=dict)
    job_tick_duplicates: int = 0
    job_hosts: dict[str, int] = field(default_factory=dict)
    scan_ticks_expected: int = 0
    scan_ticks_ran: int = 0
    counts_equal: bool = False
    counts: list[dict[str, int]] = field(default_factory=list)
    died: list[str] = field(default_factory=list)
    senders_by_host: dict[str, int] = field(default_factory=dict)
    sla: bool = True

    @property
    def ok(self) -> bool:
        return (
            self.ledger.ok
            and self.ledger.accepted == self.ledger.sent
            and not self.flow_failures
            and not self.stale_reads
            and self.api_tickets_duplicated == 0
            and self.api_comments_duplicated == 0
            and self.outbound_duplicates == 0
            and not self.relay_duplicates
            and not self.notification_duplicates
            and self.sla_duplicates == 0
            and (not self.sla or sum(self.sla_notices.values()) > 0)
            and self.job_tick_duplicates == 0
            and self.scan_ticks_ran >= 0.8 * self.scan_ticks_expected
            and self.counts_equal
            and self.outbound_by_status.get("queued", 0) + self.outbound_by_status.get("sending", 0)
            == 0
            and not self.died
        )


async def _admin_setup(api: str, token: str) -> None:
    """A 24x7 calendar and a one-minute SLA policy (reminders at half), via the admin API."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        calendar = await client.post(
            "/api/v1/admin/calendars",
            json={
                "name": "24x7",
                "timezone": "Asia/Seoul",
                "weekly_hours": {str(d): [["00:00", "24:00"]] for d in range(7)},
                "use_kr_holidays": False,
            },
        )
        if calendar.status_code != 201:
            raise RuntimeError(f"calendar: {calendar.status_code} {calendar.text}")
        policy = await client.post(
            "/api/v1/admin/sla-policies",
            json={
                "name": "chaos: one minute",
                "calendar_id": calendar.json()["id"],
                "first_response_minutes": 1,
                "resolution_minutes": 2,
                "reminder_percent": 50,
            },
        )
        if policy.status_code != 201:
            raise RuntimeError(f"policy: {policy.status_code} {policy.text}")


class RoundRobin:
    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.n = 0

    def next(self) -> tuple[str, str]:
        """(the replica to write on, the other one to read from)."""
        self.n += 1
        first = self.urls[self.n % 2]
        return first, self.urls[(self.n + 1) % 2]


async def _flow(
    n: int,
    run: str,
    rr: RoundRobin,
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    agent_id: int,
    result: ReplicaResult,
) -> None:
    requester = {"Authorization": f"Bearer {tokens[peers.REQUESTER]}"}
    agent = {"Authorization": f"Bearer {tokens[peers.AGENT]}"}
    subject = f"RR-{run}-{n:04d} 프린터"
    write, read = rr.next()
    try:
        created = await clients[write].post(
            "/api/v1/tickets",
            json={"subject": subject, "body": "인쇄가 안 됩니다"},
            headers=requester,
        )
        if created.status_code != 201:
            result.flow_failures.append(f"{subject}: create {created.status_code}")
            return
        ticket = created.json()["id"]
        seen = await clients[read].get(f"/api/v1/tickets/{ticket}", headers=agent)
        if seen.status_code != 200 or seen.json()["subject"] != subject:
            result.stale_reads.append(
                f"{subject}: created on {write}, {read} says {seen.status_code}"
            )
        write, read = rr.next()
        assigned = await clients[write].patch(
            f"/api/v1/tickets/{ticket}", json={"assignee_id": agent_id}, headers=agent
        )
        if assigned.status_code != 200:
            result.flow_failures.append(
                f"{subject}: assign {assigned.status_code} {assigned.text[:80]}"
            )
        seen = await clients[read].get(f"/api/v1/tickets/{ticket}", headers=requester)
        if seen.status_code != 200 or (seen.json().get("assignee") or {}).get("id") != agent_id:
            result.stale_reads.append(f"{subject}: assigned on {write}, {read} does not show it")
        if n % 2 == 0:  # the other half stays unanswered: the SLA scan reminds and escalates
            write, read = rr.next()
            body = f"RR-REPLY-{run}-{n:04d} 드라이버를 다시 설치해 보세요."
            reply = await clients[write].post(
                f"/api/v1/tickets/{ticket}/comments",
                json={"body": body, "visibility": "public"},
                headers=agent,
            )
            if reply.status_code != 201:
                result.flow_failures.append(f"{subject}: reply {reply.status_code}")
                return
            thread = await clients[read].get(
                f"/api/v1/tickets/{ticket}/comments", headers=requester
            )
            if thread.status_code != 200 or not any(c["body_text"] == body for c in thread.json()):
                result.stale_reads.append(f"{subject}: reply on {write}, {read} misses it")
        result.flows += 1
    except httpx.HTTPError as exc:
        result.flow_failures.append(f"{subject}: {exc!r}")


async def run_replicas(
    cfg: ReplicaConfig,
    *,
    server: str | None = None,
    database_url: str | None = None,
    keep_db: bool = False,
    log=print,
) -> ReplicaResult:
    """On a fresh database on `server`, or on `database_url` (migrated and empty: the tests')."""
    result = ReplicaResult(sla=cfg.sla)
    run = uuid.uuid4().hex[:8]
    own_database = database_url is None
    if database_url is None:
        database_url = harness.create_database(server, prefix="sd_chaos_replicas")
    work = harness.workdir("replicas")
    relay = peers.RelaySink()
    services: list[harness.Service] = []
    try:
        if own_database:
            await asyncio.to_thread(harness.migrate, database_url)
        ids = await peers.create_users(database_url)
        relay.start()
        api_ports = [harness.free_port(), harness.free_port()]
        smtp_ports = [harness.free_port(), harness.free_port()]
        env = harness.base_env(
            database_url,
            work,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(relay.port),
            SCHEDULER_TICK_SECONDS="1",
            SCHEDULER_SLA_SCAN_SECONDS=str(cfg.scan_seconds),
            MAIL_RETRY_BASE_SECONDS="2",
            API_PUBLIC_URL=f"http://127.0.0.1:{api_ports[0]}",
        )
        for i in range(2):
            replica = [
                harness.Service(
                    f"api-{i}",
                    ["api", "--host", "127.0.0.1", "--port", str(api_ports[i])],
                    env,
                    work,
                    port=api_ports[i],
                ),
                harness.Service(
                    f"mailgateway-{i}",
                    ["mailgateway", "--host", "127.0.0.1", "--port", str(smtp_ports[i])],
                    env,
                    work,
                    port=smtp_ports[i],
                ),
                harness.Service(f"mailworker-{i}", ["mailworker"], env, work),
                harness.Service(f"mailsender-{i}", ["mailsender"], env, work),
                harness.Service(f"scheduler-{i}", ["scheduler"], env, work),
            ]
            services += [s for s in replica if s.name.rsplit("-", 1)[0] in cfg.processes]
        for service in services:
            service.start()
        for service in services:
            await asyncio.to_thread(service.wait_ready, 90)
        urls = [f"http://127.0.0.1:{p}" for p in api_ports]
        tokens = {address: await peers.login(urls[0], address) for address, _ in peers.PEOPLE}
        if cfg.sla:
            await _admin_setup(urls[1], tokens[peers.ADMIN])
        log(f"replicas: {len(services)} processes up")

        started_at = datetime.now(UTC)
        began = time.monotonic()
        mails = build_mails(cfg.mails, run_id=run, seed=3)
        halves = [mails[0::2], mails[1::2]]
        loads = [
            SmtpLoad(
                smtp_ports[i], halves[i], connections=4, rate=cfg.mail_rate / 2, max_seconds=600
            )
            for i in range(2)
        ]
        mail_tasks = [asyncio.create_task(load.run()) for load in loads]
        rr = RoundRobin(urls)
        clients = {url: httpx.AsyncClient(base_url=url, timeout=30) for url in urls}
        try:
            flow_tasks = []
            for n in range(cfg.flows):
                flow_tasks.append(
                    asyncio.create_task(
                        _flow(n, run, rr, clients, tokens, ids[peers.AGENT], result)
                    )
                )
                await asyncio.sleep(1 / cfg.flow_rate)
            await asyncio.gather(*flow_tasks)
            outcomes = await asyncio.gather(*mail_tasks)
            log(
                f"  load done in {time.monotonic() - began:.0f} s; "
                f"waiting {cfg.sla_wait:.0f} s for SLA notices"
            )
            await drain(database_url, stall_seconds=120)
            await asyncio.sleep(cfg.sla_wait)
            await harness.until_async(
                lambda: _outbound_pending(database_url) == 0, seconds=120, interval=2
            )
            counts = []
            for url in urls:
                response = await clients[url].get(
                    "/api/v1/tickets/counts",
                    headers={"Authorization": f"Bearer {tokens[peers.AGENT]}"},
                )
                counts.append(response.json() if response.status_code == 200 else {})
            result.counts = counts
            result.counts_equal = bool(counts[0]) and counts[0] == counts[1]
        finally:
            for client in clients.values():
                await client.aclose()
        ended_at = datetime.now(UTC)

        for service in services:
            if not service.alive():
                result.died.append(f"{service.name}: {service.log_tail(600)}")
        accepted: set[int] = set()
        for outcome in outcomes:  # keyed by each mail's own index, whichever gateway took it
            accepted |= set(outcome.accepted)
        result.ledger = await asyncio.to_thread(reconcile, database_url, run, mails, accepted)
        await asyncio.to_thread(
            _check_database, database_url, run, started_at, ended_at, cfg, result
        )
        result.relay_duplicates = relay.duplicates()
        result.relay_received = len(relay.mails)
        return result
    finally:
        for service in services:
            service.stop()
        relay.stop()
        if own_database and not keep_db:
            harness.drop_database(database_url)
        harness.discard(work)


def _outbound_pending(database_url: str) -> int:
    return int(
        harness.scalar(
            database_url,
            "SELECT count(*) FROM outbound_emails WHERE status IN ('queued', 'sending')",
        )
        or 0
    )


def _check_database(
    database_url: str,
    run: str,
    started_at: datetime,
    ended_at: datetime,
    cfg: ReplicaConfig,
    result: ReplicaResult,
) -> None:
    q, one = harness.query, harness.scalar
    result.api_tickets_duplicated = int(
        one(
            database_url,
            "SELECT count(*) FROM (SELECT subject FROM tickets WHERE subject LIKE %s "
            "GROUP BY subject HAVING count(*) > 1) d",
            [f"RR-{run}-%"],
        )
        or 0
    )
    result.api_comments_duplicated = int(
        one(
            database_url,
            "SELECT count(*) FROM (SELECT body_text FROM comments WHERE body_text LIKE %s "
            "GROUP BY body_text HAVING count(*) > 1) d",
            [f"RR-REPLY-{run}-%"],
        )
        or 0
    )
    result.outbound_duplicates = int(
        one(
            database_url,
            "SELECT count(*) FROM (SELECT 1 FROM outbound_emails GROUP BY event_key, recipient "
            "HAVING count(*) > 1) d",
        )
        or 0
    )
    result.outbound_by_status = dict(
        q(database_url, "SELECT status, count(*) FROM outbound_emails GROUP BY status")
    )
    result.outbound_by_kind = dict(
        q(database_url, "SELECT kind, count(*) FROM outbound_emails GROUP BY kind")
    )
    result.notifications = int(one(database_url, "SELECT count(*) FROM notifications") or 0)
    result.notification_duplicates = [
        f"user {u} ticket {t} {k} {title[:60]!r} x{n}"
        for u, t, k, title, n in q(
            database_url,
            "SELECT user_id, ticket_id, kind, title, count(*) FROM notifications "
            "GROUP BY user_id, ticket_id, kind, title, data::text HAVING count(*) > 1",
        )
    ]
    result.sla_notices = dict(
        q(
            database_url,
            "SELECT split_part(event_key, ':', 3), count(*) FROM outbound_emails "
            "WHERE kind = 'sla' GROUP BY 1",
        )
    )
    result.sla_duplicates = int(
        one(
            database_url,
            "SELECT count(*) FROM (SELECT ticket_id, split_part(event_key, ':', 3), recipient "
            "FROM outbound_emails WHERE kind = 'sla' GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
        )
        or 0
    )
    result.job_runs = dict(
        q(database_url, "SELECT job_id || ' ' || status, count(*) FROM job_runs GROUP BY 1")
    )
    result.job_tick_duplicates = int(
        one(
            database_url,
            "SELECT count(*) FROM (SELECT job_id, scheduled_for FROM job_runs "
            "WHERE scheduled_for IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d",
        )
        or 0
    )
    result.job_hosts = dict(q(database_url, "SELECT host, count(*) FROM job_runs GROUP BY host"))
    result.scan_ticks_ran = int(
        one(
            database_url,
            "SELECT count(*) FROM job_runs WHERE job_id = 'sla_scan' "
            "AND scheduled_for BETWEEN %s AND %s",
            [started_at, ended_at],
        )
        or 0
    )
    result.scan_ticks_expected = int((ended_at - started_at).total_seconds() // cfg.scan_seconds)


def report(result: ReplicaResult, cfg: ReplicaConfig, rep: harness.Report) -> None:
    rep.add(
        f"replicas: 2 x {', '.join(PROCESSES)} (+ the scheduler's own sender: 4 senders); "
        f"{cfg.mails} mails over both gateways, {cfg.flows} round-robin API flows, "
        f"SLA 1 min / 2 min with reminders at 50 %, scan every {cfg.scan_seconds:g} s"
    )
    rep.add("")
    rep.add("Mail over both gateways")
    result.ledger.rows(rep)
    rep.add("")
    rep.add("API over both replicas (write on one, read on the other)")
    rep.row("flows completed", f"{result.flows} of {cfg.flows}")
    rep.row("failed steps", len(result.flow_failures))
    rep.row("stale reads", len(result.stale_reads))
    rep.row(
        "tickets / replies duplicated",
        f"{result.api_tickets_duplicated} / {result.api_comments_duplicated}",
    )
    rep.row("queue counts on replica 1", result.counts[0] if result.counts else "-")
    rep.row("queue counts on replica 2", result.counts[1] if len(result.counts) > 1 else "-")
    for item in [*result.flow_failures[:5], *result.stale_reads[:5]]:
        rep.add(f"  ! {item}")
    rep.add("")
    rep.add("Notifications, outbound mail, SLA")
    rep.row("outbound rows by kind", dict(sorted(result.outbound_by_kind.items())))
    rep.row("outbound rows by status", dict(sorted(result.outbound_by_status.items())))
    rep.row("outbox rows doubled (event, recipient)", result.outbound_duplicates)
    rep.row("mails the relay received", result.relay_received)
    rep.row("handed to the relay twice", len(result.relay_duplicates))
    rep.row("in-app notifications", result.notifications)
    rep.row("in-app notifications doubled", len(result.notification_duplicates))
    rep.row("SLA notices by kind", dict(sorted(result.sla_notices.items())))
    rep.row("SLA notices doubled", result.sla_duplicates)
    for item in result.notification_duplicates[:5]:
        rep.add(f"  ! {item}")
    rep.add("")
    rep.add("Scheduler")
    rep.row("job runs", dict(sorted(result.job_runs.items())))
    rep.row("ticks run twice", result.job_tick_duplicates)
    rep.row(
        "sla_scan ticks run / expected", f"{result.scan_ticks_ran} / {result.scan_ticks_expected}"
    )
    rep.row("runs by host (leader)", result.job_hosts)
    rep.row("processes that died", result.died or 0)
    rep.add("")
    dup = (
        result.ledger.duplicates
        + result.api_tickets_duplicated
        + result.api_comments_duplicated
        + result.outbound_duplicates
        + len(result.relay_duplicates)
        + len(result.notification_duplicates)
        + result.sla_duplicates
        + result.job_tick_duplicates
    )
    rep.add(
        f"lost = {result.ledger.missing}, duplicated = {dup}, stale reads = "
        f"{len(result.stale_reads)}: " + ("PASS" if result.ok else "FAIL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--flows", type=int, default=60)
    parser.add_argument("--sla-wait", type=float, default=150.0)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    cfg = ReplicaConfig(mails=args.mails, flows=args.flows, sla_wait=args.sla_wait)
    rep = harness.Report("replicas", "Chaos: replicas (two of every process, one database)")
    result = asyncio.run(run_replicas(cfg, keep_db=args.keep_db))
    report(result, cfg, rep)
    if not args.no_report:
        rep.write(harness.command_line(), verdict="PASS" if result.ok else "FAIL")
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
