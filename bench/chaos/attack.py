"""Attack: stored XSS through mail and web rendered in Chromium, injection in every filter,
SMTP abuse, brute force, forged tokens, other people's things by id.

    .venv/bin/python -m bench.chaos.attack [--no-web]

A fresh database and real `servicedesk api`, `servicedesk mailgateway` and the portal's
production build (`next start`), all on 127.0.0.1. Then:

1. XSS: every vector of bench/chaos/xss.py goes in by mail (HTML part, subject, sender name,
   attachment file name, text body) and through the API (ticket subjects and bodies, public and
   internal comments, the requester's display name); an agent, the requester and an admin open
   every page that shows them (queue, ticket, request, mail log) in Chromium, which reports any
   vector whose script runs. A positive control renders the raw vectors in a bare page first, so
   a watcher that sees nothing is known to be able to see something.
2. Injection, tokens, other people's things: bench/chaos/api_attacks.py.
3. SMTP abuse: bench/chaos/smtp_abuse.py, against the gateway process.
4. Brute force last (its limits lock 127.0.0.1 out of logging in for 15 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from bench.chaos import api_attacks, harness, peers, smtp_abuse, xss
from bench.chaos.ledger import drain

WEB_DIR = harness.PROJECT_DIR / "web"


@dataclass
class XssResult:
    vectors: int = 0
    mails: int = 0
    web_items: int = 0
    pages: int = 0
    control_fired: int = 0
    control_total: int = 0
    watcher: xss.Watcher = field(default_factory=xss.Watcher)
    portal: bool = False
    stored_checked: int = 0
    stored_fired: int = 0

    @property
    def executed(self) -> int:
        return self.watcher.executed + self.stored_fired


@dataclass
class AttackResult:
    xss: XssResult = field(default_factory=XssResult)
    injection: api_attacks.InjectionResult = field(default_factory=api_attacks.InjectionResult)
    tokens: list[api_attacks.Check] = field(default_factory=list)
    idor: list[api_attacks.Check] = field(default_factory=list)
    smtp: smtp_abuse.AbuseResult = field(default_factory=smtp_abuse.AbuseResult)
    brute: api_attacks.BruteForce = field(default_factory=api_attacks.BruteForce)
    inbound_statuses: dict[str, int] = field(default_factory=dict)
    quarantined: list[str] = field(default_factory=list)
    died: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.xss.executed == 0
            and self.xss.control_fired > 0
            and self.injection.ok
            and all(c.ok for c in self.tokens)
            and all(c.ok for c in self.idor)
            and not self.smtp.violations
            and self.brute.ok
            and set(self.inbound_statuses) <= {"processed", "ignored", "quarantined"}
            and not self.died
        )


# --- XSS in ----------------------------------------------------------------------------------


def xss_mails(vectors: list[xss.Vector], run: str) -> list[tuple[str, EmailMessage]]:
    """(subject, mail) for each vector: HTML vectors in the HTML part, text vectors in the
    subject, the sender's name, an attachment's file name and the text body."""
    out = []
    for n, vector in enumerate(vectors):
        message = EmailMessage()
        sender = f"x{n}-{run}@evil-mail.ac.kr"
        subject = f"XSS {vector.id} {run}"
        if vector.kind == "html":
            message["From"] = f"Mallory {n} <{sender}>"
            message["Subject"] = subject
            message.set_content(f"HTML 벡터 {vector.id}")
            message.add_alternative(f"<p>본문 {vector.id}</p>{vector.payload}", subtype="html")
        else:
            message["From"] = f'"{vector.payload[:150]}" <{sender}>'
            message["Subject"] = f"{subject} {vector.payload}"
            message.set_content(f"텍스트 벡터 {vector.id}\n{vector.payload}\n")
            message.add_attachment(
                b"payload",
                maintype="application",
                subtype="octet-stream",
                filename=f"{vector.payload[:120]}.txt",
            )
        message["To"] = harness.HELP
        message["Message-ID"] = f"<xss-{vector.id}-{run}@evil-mail.ac.kr>"
        out.append((subject, message))
    return out


async def send_mails(port: int, mails: list[tuple[str, EmailMessage]]) -> None:
    import aiosmtplib

    for _, message in mails:
        await aiosmtplib.send(
            message,
            hostname="127.0.0.1",
            port=port,
            sender=str(message["From"]).split("<")[-1].rstrip(">"),
            recipients=[harness.HELP],
            timeout=60,
        )


async def web_items(target: api_attacks.Target, vectors: list[xss.Vector]) -> list[int]:
    """Tickets opened by the requester with text vectors in subjects and HTML vectors in
    bodies; an agent's public and internal comments carrying every HTML vector; the requester's
    display name set to a vector. Returns the ticket ids."""
    html_vectors = [v for v in vectors if v.kind == "html"]
    text_vectors = [v for v in vectors if v.kind == "text"]
    requester = {"Authorization": f"Bearer {target.tokens[peers.REQUESTER]}"}
    agent = {"Authorization": f"Bearer {target.tokens[peers.AGENT]}"}
    ids: list[int] = []
    async with httpx.AsyncClient(base_url=target.api, timeout=30) as client:
        name = await client.patch(
            "/api/v1/auth/me", json={"name": text_vectors[0].payload[:200]}, headers=requester
        )
        name.raise_for_status()
        chunk = max(1, len(html_vectors) // len(text_vectors) + 1)
        for n, vector in enumerate(text_vectors):
            body = "\n".join(v.payload for v in html_vectors[n * chunk : (n + 1) * chunk])
            created = await client.post(
                "/api/v1/tickets",
                json={"subject": f"WEB {vector.id} {vector.payload}"[:250], "body": body or "x"},
                headers=requester,
            )
            if created.status_code != 201:
                raise RuntimeError(f"web ticket: {created.status_code} {created.text}")
            ticket = created.json()["id"]
            ids.append(ticket)
            for visibility in ("public", "internal"):
                comment = await client.post(
                    f"/api/v1/tickets/{ticket}/comments",
                    json={
                        "body": "\n".join(v.payload for v in html_vectors[n :: len(text_vectors)]),
                        "visibility": visibility,
                    },
                    headers=agent,
                )
                if comment.status_code != 201:
                    raise RuntimeError(
                        f"agent comment on ticket {ticket}: {comment.status_code} {comment.text}"
                    )
    return ids


# --- XSS out: the portal in Chromium ---------------------------------------------------------


async def sign_in(browser: Any, web: str, address: str, watcher: xss.Watcher) -> Any:
    context = await browser.new_context(base_url=web, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(30_000)
    page = await context.new_page()
    watcher.attach(page, f"{address} sign-in")
    await page.goto("/login")
    await page.fill("#email", address)
    await page.fill("#password", peers.PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    await page.close()
    return context


async def visit(context: Any, path: str, watcher: xss.Watcher, who: str, ready: str | None) -> None:
    page = await context.new_page()
    where = f"{who} {path}"
    watcher.attach(page, where)
    try:
        await page.goto(path, wait_until="load")
        if ready:
            try:
                await page.wait_for_selector(ready, timeout=20_000)
            except Exception:
                watcher.errors.append(f"{where}: {ready} never appeared")
        await watcher.settle(page, where)
    except Exception as exc:
        watcher.errors.append(f"{where}: {type(exc).__name__}: {exc}"[:300])
    finally:
        await page.close()


async def render_portal(
    web: str,
    *,
    agent_tickets: list[int],
    requester_tickets: list[int],
    inbound_ids: list[int],
    watcher: xss.Watcher,
) -> None:
    async with xss.chromium() as browser:
        agent = await sign_in(browser, web, peers.AGENT, watcher)
        await visit(agent, "/tickets?view=all", watcher, "agent", "[data-testid=queue-row]")
        for ticket in agent_tickets:
            await visit(agent, f"/tickets/{ticket}", watcher, "agent", "[data-testid=thread]")
        await agent.close()
        requester = await sign_in(browser, web, peers.REQUESTER, watcher)
        await visit(requester, "/requests", watcher, "requester", "[data-testid=request-list]")
        for ticket in requester_tickets:
            await visit(
                requester, f"/requests/{ticket}", watcher, "requester", "[data-testid=thread]"
            )
        await visit(requester, "/notifications", watcher, "requester", None)
        await requester.close()
        admin = await sign_in(browser, web, peers.ADMIN, watcher)
        await visit(admin, "/admin/mail", watcher, "admin", None)
        for inbound in inbound_ids:
            await visit(
                admin, f"/admin/mail/{inbound}", watcher, "admin", "[data-testid=parse-result]"
            )
        await visit(admin, "/admin/users", watcher, "admin", None)
        await admin.close()


async def positive_control(vectors: list[xss.Vector]) -> int:
    """Raw vectors in a bare page: the watcher must see many of them run."""
    watcher = xss.Watcher()
    async with xss.chromium() as browser:
        await xss.render_fragments(
            browser, {f"raw {v.id}": v.payload for v in vectors if v.kind == "html"}, watcher
        )
    return watcher.executed


async def stored_html(database_url: str, browser_vectors: list[xss.Vector]) -> tuple[int, int]:
    """Every comment body_html our pipeline stored, rendered bare (no sandbox, no CSP)."""
    rows = harness.query(
        database_url, "SELECT id, body_html FROM comments WHERE body_html IS NOT NULL"
    )
    watcher = xss.Watcher()
    async with xss.chromium() as browser:
        await xss.render_fragments(browser, {f"comment {i}": h for i, h in rows}, watcher)
    return len(rows), watcher.executed


# --- the run ---------------------------------------------------------------------------------


async def run_attack(*, web: bool = True, keep_db: bool = False, log=print) -> AttackResult:
    result = AttackResult()
    run = uuid.uuid4().hex[:6]
    database_url = harness.create_database(prefix="sd_chaos_attack")
    work = harness.workdir("attack")
    services: list[harness.Service] = []
    try:
        await asyncio.to_thread(harness.migrate, database_url)
        ids = await peers.create_users(database_url)
        api_port, smtp_port, web_port = (harness.free_port() for _ in range(3))
        api_url, web_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{web_port}"
        env = harness.base_env(
            database_url,
            work,
            API_PUBLIC_URL=api_url,
            APP_BASE_URL=web_url,
            CORS_ORIGINS=web_url,
            API_BASE_URL=api_url,
            NEXT_PUBLIC_API_BASE_URL=api_url,
            NEXT_TELEMETRY_DISABLED="1",
            MAIL_RETRY_BASE_SECONDS="1",
        )
        services = harness.api_and_gateway(env, work, api_port=api_port, smtp_port=smtp_port)
        use_web = web and (WEB_DIR / ".next" / "BUILD_ID").exists()
        if use_web:
            services.append(
                harness.Service(
                    "web",
                    ["start", "-p", str(web_port), "-H", "127.0.0.1"],
                    env,
                    work,
                    port=web_port,
                    program=[str(WEB_DIR / "node_modules" / ".bin" / "next")],
                    cwd=WEB_DIR,
                )
            )
        for service in services:
            service.start()
        for service in services:
            await asyncio.to_thread(service.wait_ready, 90)
        tokens = {a: await peers.login(api_url, a) for a, _ in peers.PEOPLE}
        target = api_attacks.Target(
            api=api_url,
            database_url=database_url,
            jwt_secret=env["JWT_SECRET"],
            tokens=tokens,
            ids=ids,
        )
        await api_attacks.arrange(target)
        log(f"attack: system up (api {api_port}, smtp {smtp_port}, web {use_web})")

        vectors = xss.corpus(run)
        result.xss.vectors = len(vectors)
        mails = xss_mails(vectors, run)
        await send_mails(smtp_port, mails)
        result.xss.mails = len(mails)
        web_tickets = await web_items(target, vectors)
        result.xss.web_items = len(web_tickets)
        await drain(database_url, stall_seconds=120)
        log(f"  {len(mails)} XSS mails and {len(web_tickets)} web tickets stored")

        log("  injection over every GET parameter ...")
        result.injection = await api_attacks.injection(target)
        log("  forged tokens, other people's things ...")
        result.tokens = await api_attacks.token_attacks(target)
        result.idor = await api_attacks.idor(target)

        log("  SMTP abuse ...")

        def stored(needles: list[str]) -> int:
            sql = "SELECT count(*) FROM inbound_messages WHERE " + " AND ".join(
                "position(%s::bytea in raw) > 0" for _ in needles
            )
            return int(harness.scalar(database_url, sql, [n.encode() for n in needles]) or 0)

        result.smtp = await smtp_abuse.run_abuse(smtp_port, inbound_count=stored)
        await drain(database_url, stall_seconds=120)
        result.inbound_statuses = dict(
            harness.query(database_url, "SELECT status, count(*) FROM inbound_messages GROUP BY 1")
        )
        result.quarantined = [
            f"{subject!r:.60}: {reason}"[:160]
            for subject, reason in harness.query(
                database_url,
                "SELECT subject, reason FROM inbound_messages WHERE status = 'quarantined'",
            )
        ]

        log("  Chromium: positive control, stored HTML, the portal ...")
        result.xss.control_total = sum(1 for v in vectors if v.kind == "html")
        result.xss.control_fired = await positive_control(vectors)
        result.xss.stored_checked, result.xss.stored_fired = await stored_html(
            database_url, vectors
        )
        if use_web:
            result.xss.portal = True
            agent_tickets = [
                row[0]
                for row in harness.query(
                    database_url,
                    "SELECT id FROM tickets WHERE subject LIKE %s OR subject LIKE %s ORDER BY id",
                    [f"XSS %{run}%", f"WEB {run}%"],
                )
            ]
            inbound_ids = [
                row[0]
                for row in harness.query(
                    database_url,
                    "SELECT id FROM inbound_messages WHERE subject LIKE %s ORDER BY id",
                    [f"XSS {run}t%"],
                )
            ]
            await render_portal(
                web_url,
                agent_tickets=agent_tickets,
                requester_tickets=web_tickets,
                inbound_ids=inbound_ids,
                watcher=result.xss.watcher,
            )
            result.xss.pages = result.xss.watcher.pages

        log("  brute force (last) ...")
        result.brute = await api_attacks.brute_force(api_url, peers.OTHER_REQUESTER)
        for service in services:
            if not service.alive():
                result.died.append(f"{service.name}: {service.log_tail(800)}")
        return result
    finally:
        for service in services:
            service.stop()
        if not keep_db:
            harness.drop_database(database_url)
        harness.discard(work)


def report(result: AttackResult, rep: harness.Report) -> None:
    x = result.xss
    rep.add("attack")
    rep.add("")
    rep.add("Stored XSS")
    rep.row("vectors (HTML + text)", x.vectors)
    rep.row("in by mail / by the API (tickets)", f"{x.mails} / {x.web_items}")
    rep.row("positive control (raw, bare page)", f"{x.control_fired} of {x.control_total} ran")
    rep.row("stored comment HTML rendered bare", f"{x.stored_checked} bodies, {x.stored_fired} ran")
    rep.row("portal pages rendered in Chromium", x.pages if x.portal else "web build missing")
    rep.row("executed scripts", x.executed)
    for vector_id, where in sorted(x.watcher.fired.items())[:10]:
        rep.add(f"  ! {vector_id} ran in {sorted(where)[:3]}")
    for error in x.watcher.errors[:5]:
        rep.add(f"  note: {error}")
    inj = result.injection
    rep.add("")
    rep.add("Injection (every query parameter of every GET in /openapi.json)")
    rep.row("parameters", len(inj.parameters))
    rep.row("requests (requester + admin)", inj.requests)
    rep.row("answers", dict(sorted(inj.statuses.items())))
    rep.row("5xx", len(inj.server_errors))
    rep.row(f"pg_sleep answers over {api_attacks.SLOW_SECONDS} s", len(inj.slow))
    rep.row("requester saw others' tickets", len(inj.leaks))
    rep.row("tables intact", inj.tables_intact)
    for item in [*inj.server_errors[:5], *inj.slow[:3], *inj.leaks[:3]]:
        rep.add(f"  ! {item}")
    for title, checks in (("Forged tokens", result.tokens), ("Other people's things", result.idor)):
        rep.add("")
        rep.add(title)
        bad = [c for c in checks if not c.ok]
        rep.row("checks / refused as they should", f"{len(checks)} / {len(checks) - len(bad)}")
        if title != "Forged tokens":
            for c in checks:
                rep.add(f"  {'ok ' if c.ok else 'BAD'} {c.name}: {c.got} (expected {c.expected})")
        for c in bad[:10]:
            rep.add(f"  BAD {c.name}: got {c.got}, expected {c.expected}")
    rep.add("")
    rep.add("SMTP abuse")
    for case in result.smtp.cases:
        rep.add(
            f"  {'ok ' if case.ok else 'BAD'} {case.name}: {case.got[:150]} ({case.seconds:.1f} s)"
        )
    rep.row("inbound rows by status afterwards", dict(sorted(result.inbound_statuses.items())))
    for item in result.quarantined[:5]:
        rep.add(f"    quarantined {item}")
    b = result.brute
    rep.add("")
    rep.add("Brute force")
    rep.row("20 guesses at one address", f"first 429 at guess {b.first_429}: {b.guesses}")
    rep.row("correct password while locked", b.correct_during_lock)
    rep.row("stuffing (new address each try)", f"first 429 at try {b.stuffing_first_429}")
    rep.row("processes that died", result.died or 0)
    rep.add("")
    rep.add(
        f"executed scripts = {x.executed}, API 5xx = {len(inj.server_errors)}, leaks = "
        f"{len(inj.leaks) + sum(1 for c in result.idor if not c.ok)}, forged tokens accepted = "
        f"{sum(1 for c in result.tokens if not c.ok)}, SMTP violations = "
        f"{len(result.smtp.violations)}: " + ("PASS" if result.ok else "FAIL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-web", action="store_true", help="skip the portal in Chromium")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    rep = harness.Report("attack", "Chaos: attack (XSS in Chromium, injection, SMTP abuse, tokens)")
    started = time.monotonic()
    result = asyncio.run(run_attack(web=not args.no_web, keep_db=args.keep_db))
    report(result, rep)
    rep.add(f"(took {time.monotonic() - started:.0f} s)")
    if not args.no_report:
        rep.write(harness.command_line(), verdict="PASS" if result.ok else "FAIL")
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
