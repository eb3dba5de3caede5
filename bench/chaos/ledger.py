"""Reconciliation: did every mail the gateway accepted become exactly one ticket or comment?

Looked up by Message-ID (comments.message_id is what the pipeline writes for a ticket's first
comment and for a reply) and by the unique token in the subject (a second ticket for the same
mail would carry it too); inbound_messages shows what is still queued or quarantined.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.chaos import harness
from bench.chaos.smtpload import Mail


@dataclass
class MailLedger:
    sent: int = 0
    accepted: int = 0
    processed: int = 0
    as_tickets: int = 0
    as_comments: int = 0
    duplicates: int = 0
    missing: int = 0
    stuck: int = 0
    quarantined: int = 0
    wrong_body: int = 0
    copies: int = 0
    ignored_copies: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.processed == self.accepted
            and self.duplicates == 0
            and self.missing == 0
            and self.stuck == 0
            and self.quarantined == 0
            and self.wrong_body == 0
        )

    def rows(self, rep: harness.Report) -> None:
        rep.row("accepted (250)", self.accepted)
        rep.row("processed (exactly one comment)", self.processed)
        rep.row("  as new tickets / as replies", f"{self.as_tickets} / {self.as_comments}")
        rep.row("duplicates", self.duplicates)
        rep.row("missing", self.missing)
        rep.row("stuck (received/processing)", self.stuck)
        rep.row("quarantined", self.quarantined)
        rep.row("wrong body", self.wrong_body)
        rep.row("inbound rows by status", dict(sorted(self.statuses.items())))
        rep.row(
            "extra copies (lost 250, re-sent)",
            f"{self.copies} (ignored as duplicate: {self.ignored_copies})",
        )
        for reason, count in self.quarantine_reasons.most_common(5):
            rep.add(f"  quarantine reason x{count}: {reason}")
        for example in self.examples[:10]:
            rep.add(f"  {example}")


def ledger_baseline(database_url: str) -> int:
    """The last inbound id before an experiment: rows after it are the experiment's."""
    return int(
        harness.scalar(database_url, "SELECT coalesce(max(id), 0) FROM inbound_messages") or 0
    )


def queue_depth(database_url: str, *, after_id: int = 0) -> int:
    return int(
        harness.scalar(
            database_url,
            "SELECT count(*) FROM inbound_messages WHERE status IN ('received', 'processing') "
            "AND id > %s",
            [after_id],
        )
        or 0
    )


async def drain(
    database_url: str, *, stall_seconds: float = 120.0, cap: float = 3600.0, after_id: int = 0
) -> bool:
    """Wait until the inbound queue is empty; give up when it stops shrinking for
    `stall_seconds` (or after `cap`). True when it emptied."""
    started = time.monotonic()
    best, best_at = None, started
    while time.monotonic() - started < cap:
        depth = await asyncio.to_thread(lambda: queue_depth(database_url, after_id=after_id))
        if depth == 0:
            return True
        if best is None or depth < best:
            best, best_at = depth, time.monotonic()
        elif time.monotonic() - best_at > stall_seconds:
            return False
        await asyncio.sleep(1)
    return False


def reconcile(
    database_url: str,
    run_id: str,
    mails: list[Mail],
    accepted: dict[int, str] | set[int],
    *,
    after_id: int = 0,
) -> MailLedger:
    ledger = MailLedger(sent=len(mails), accepted=len(accepted))
    pattern = f"<chaos-{run_id}-%"
    comments: dict[str, list[str]] = {}
    for message_id, body in harness.query(
        database_url,
        "SELECT message_id, body_text FROM comments WHERE message_id LIKE %s",
        [pattern],
    ):
        comments.setdefault(message_id, []).append(body)
    token_re = re.compile(rf"CHAOS-{run_id}-\d+")
    tickets: Counter[str] = Counter()
    for (subject,) in harness.query(
        database_url,
        "SELECT subject FROM tickets WHERE subject LIKE %s",
        [f"%CHAOS-{run_id}-%"],
    ):
        match = token_re.search(subject)
        if match:
            tickets[match.group(0)] += 1
    starters = {
        row[0]
        for row in harness.query(
            database_url,
            "SELECT thread_message_id FROM tickets WHERE thread_message_id LIKE %s",
            [pattern],
        )
    }
    for mail in mails:
        found = comments.get(mail.message_id, [])
        if len(found) > 1 or tickets[mail.token] > 1:
            ledger.duplicates += 1
            ledger.examples.append(
                f"duplicate: {mail.message_id} comments={len(found)} tickets={tickets[mail.token]}"
            )
        if mail.index not in accepted:
            continue
        if not found:
            ledger.missing += 1
            if len(ledger.examples) < 20:
                ledger.examples.append(f"missing: {mail.message_id}")
            continue
        if len(found) == 1:
            ledger.processed += 1
            if mail.message_id in starters:
                ledger.as_tickets += 1
            else:
                ledger.as_comments += 1
        if any(mail.token not in body for body in found):
            ledger.wrong_body += 1
    for status, count in harness.query(
        database_url,
        "SELECT status, count(*) FROM inbound_messages WHERE id > %s GROUP BY status",
        [after_id],
    ):
        ledger.statuses[status] = count
    ledger.stuck = ledger.statuses["received"] + ledger.statuses["processing"]
    ledger.quarantined = ledger.statuses["quarantined"]
    for (reason,) in harness.query(
        database_url,
        "SELECT reason FROM inbound_messages WHERE status = 'quarantined' AND id > %s",
        [after_id],
    ):
        ledger.quarantine_reasons[(reason or "")[:120]] += 1
    ledger.copies = sum(ledger.statuses.values()) - len(comments)
    ledger.ignored_copies = int(
        harness.scalar(
            database_url,
            "SELECT count(*) FROM inbound_messages WHERE status = 'ignored' "
            "AND reason LIKE 'duplicate%%' AND id > %s",
            [after_id],
        )
        or 0
    )
    return ledger
