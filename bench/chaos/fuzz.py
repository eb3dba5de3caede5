"""Fuzz: mutated and generated MIME through the ingestion pipeline (core/inbound).

    .venv/bin/python -m bench.chaos.fuzz [--n 10000] [--seed 1]

Messages come from bench/chaos/mime.py (hypothesis, seeded from the shared corpus). Each goes in
the way the SMTP listener puts it (`service.receive`), is claimed the way a worker claims it
(`service.claim_batch`) and processed by `service.process_claimed` in its own transaction, with
exceptions caught HERE rather than by the worker's retry loop, so each one is counted:

* unhandled   an exception escaped the pipeline (the worker would have retried and quarantined
              it as "failed N times": a bug, whatever the mail);
* unfinished  a row left `received`/`processing`, or a verdict without a reason;
* unsafe      stored comment HTML with a script, an event handler or a javascript: URL.

Every message must end processed, ignored or quarantined.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from bench.chaos import harness, mime
from core import db
from core.config import Settings, get_settings
from core.inbound import service
from core.inbound.service import ReceivedMail
from core.models import Comment, InboundMessage

BATCH = 50
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "form", "base", "meta"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background"}


class _UnsafeFinder(HTMLParser):
    """Finds what a browser would execute in markup: script-capable elements, event-handler
    attributes, script URLs. Text that merely reads "onerror=" is not markup and is fine."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DANGEROUS_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            elif name in URL_ATTRIBUTES and value:
                scheme = "".join(value.split()).lower()
                if scheme.startswith(("javascript:", "vbscript:", "data:text/html")):
                    self.found.append(f"{tag}[{name}={value[:40]}]")
            elif name == "style" and value and "javascript:" in value.lower():
                self.found.append(f"{tag}[style]")


def unsafe_markup(html: str) -> list[str]:
    finder = _UnsafeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


@dataclass
class FuzzResult:
    messages: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    unhandled: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    unsafe_html: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    bytes_total: int = 0
    largest: int = 0
    generate_seconds: float = 0.0
    process_seconds: float = 0.0
    saved_to: Path | None = None

    @property
    def ok(self) -> bool:
        return not (self.unhandled or self.unfinished or self.unsafe_html) and self.messages > 0


def fuzz_settings(upload_root: Path) -> Settings:
    return get_settings().model_copy(
        update={
            "helpdesk_addresses": mime.HELP,
            "local_upload_root": str(upload_root),
            "storage_backend": "local",
            # One attempt, no backoff: the fuzzer counts exceptions itself.
            "mail_max_attempts": 1,
            "mail_retry_base_seconds": 0,
            # Seeds repeat senders; the rate limit would quarantine most of them before threading.
            "mail_sender_rate_limit": 10**9,
        }
    )


async def fuzz_pipeline(
    messages: list[bytes],
    settings: Settings,
    *,
    failures_dir: Path | None = None,
    progress: bool = False,
) -> FuzzResult:
    """Run every message through the pipeline on the process-wide engine (core.db)."""
    result = FuzzResult(messages=len(messages))
    started = time.monotonic()
    ids: list[int] = []
    raw_by_id: dict[int, bytes] = {}
    for offset in range(0, len(messages), BATCH):
        chunk = messages[offset : offset + BATCH]
        async with db.session_scope() as session:
            batch_ids = await service.receive(
                session,
                [
                    ReceivedMail(
                        mail_from="" if b"MAILER-DAEMON" in raw[:2000] else "fuzz@univ.ac.kr",
                        rcpt_to=[mime.HELP],
                        raw=raw,
                        peer="127.0.0.1:25",
                        helo="fuzz",
                    )
                    for raw in chunk
                ],
            )
        ids += batch_ids
        raw_by_id.update(zip(batch_ids, chunk, strict=True))
        while True:
            async with db.session_scope() as session:
                claimed = await service.claim_batch(session, settings=settings, limit=BATCH)
            if not claimed:
                break
            for claim in claimed:
                message_id = claim.id
                try:
                    async with db.session_scope() as session:
                        await service.process_claimed(session, claims=[claim], settings=settings)
                except Exception as exc:
                    text = "".join(traceback.format_exception(exc))[-1500:]
                    result.unhandled.append(f"inbound {message_id}: {text}")
                    if failures_dir is not None:
                        _save_failure(failures_dir, raw_by_id[message_id], text)
                    async with db.session_scope() as session:
                        await service.record_failure(
                            session,
                            message_id=message_id,
                            attempt=claim.attempt,
                            error=exc,
                            settings=settings,
                        )
        if progress and (offset // BATCH) % 20 == 0:
            print(f"  {offset + len(chunk)}/{len(messages)} through the pipeline", flush=True)
    result.process_seconds = time.monotonic() - started
    result.bytes_total = sum(len(m) for m in messages)
    result.largest = max((len(m) for m in messages), default=0)
    await _check(result, ids)
    return result


def _save_failure(failures_dir: Path, raw: bytes, text: str) -> None:
    """Keep a failing message and its traceback, to replay it by hand."""
    failures_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(raw).hexdigest()[:12]
    (failures_dir / f"{digest}.eml").write_bytes(raw)
    (failures_dir / f"{digest}.txt").write_text(text)


async def _check(result: FuzzResult, ids: list[int]) -> None:
    async with db.session_scope() as session:
        for offset in range(0, len(ids), 1000):
            rows = await session.execute(
                select(InboundMessage.id, InboundMessage.status, InboundMessage.reason).where(
                    InboundMessage.id.in_(ids[offset : offset + 1000])
                )
            )
            for inbound_id, status, reason in rows:
                result.statuses[status] += 1
                if status not in ("processed", "ignored", "quarantined"):
                    result.unfinished.append(f"inbound {inbound_id} is {status}")
                elif status != "processed" and not reason:
                    result.unfinished.append(f"inbound {inbound_id} {status} without a reason")
                elif status != "processed":
                    result.reasons[f"{status}: {_reason_kind(reason)}"] += 1
            html = await session.execute(
                select(Comment.id, Comment.body_html).where(
                    Comment.inbound_message_id.in_(ids[offset : offset + 1000]),
                    Comment.body_html.is_not(None),
                )
            )
            for comment_id, body_html in html:
                found = unsafe_markup(body_html or "")
                if found:
                    result.unsafe_html.append(f"comment {comment_id}: {found[:3]}")
    missing = len(ids) - sum(result.statuses.values())
    if missing:
        result.unfinished.append(f"{missing} inbound rows vanished")


def _reason_kind(reason: str) -> str:
    """The reason without the per-message details, to group them."""
    text = re.sub(r"\d+", "N", reason)
    text = re.sub(r"<[^>]*>|'[^']*'|\"[^\"]*\"|\S+@\S+", "…", text)
    return text[:70]


async def run_fuzz(
    n: int, *, seed_value: int, server: str | None = None, keep_db: bool = False
) -> FuzzResult:
    database_url = harness.create_database(server, prefix="sd_chaos_fuzz")
    work = harness.workdir("fuzz")
    try:
        await asyncio.to_thread(harness.migrate, database_url)
        started = time.monotonic()
        print(f"fuzz: drawing {n} messages (seed {seed_value}) ...", flush=True)
        messages = await asyncio.to_thread(mime.examples, n, seed_value=seed_value)
        generate_seconds = time.monotonic() - started
        settings = fuzz_settings(work / "uploads").model_copy(update={"database_url": database_url})
        db.init_engine("chaos-fuzz", settings=settings)
        try:
            result = await fuzz_pipeline(
                messages, settings, failures_dir=work / "failures", progress=True
            )
        finally:
            await db.dispose_engine()
        result.generate_seconds = generate_seconds
        if result.unhandled:
            result.saved_to = work / "failures"
        return result
    finally:
        if not keep_db:
            harness.drop_database(database_url)
        if not (work / "failures").exists():  # failing messages are kept for replay
            harness.discard(work)


def report(result: FuzzResult, *, n: int, seed_value: int, rep: harness.Report) -> None:
    seeds = len(mime.corpus_seeds()) + len(mime.BUILTIN_SEEDS)
    rep.add(
        f"fuzz: {result.messages} messages (hypothesis seed {seed_value}; {seeds} seeds: "
        f"{len(mime.BUILTIN_SEEDS)} built-in + corpus {mime.CORPUS_DIR})"
    )
    rep.add(
        f"  sizes: {result.bytes_total / max(result.messages, 1) / 1024:.1f} KiB average, "
        f"largest {result.largest / 1024:.0f} KiB; drawn in {result.generate_seconds:.0f} s, "
        f"pipeline {result.process_seconds:.0f} s "
        f"({result.messages / max(result.process_seconds, 1e-9):.0f} msgs/s)"
    )
    rep.add("")
    rep.row("messages", result.messages)
    for status in ("processed", "ignored", "quarantined"):
        rep.row(status, result.statuses[status])
    rep.row("unhandled exceptions", len(result.unhandled))
    rep.row("unfinished / no reason", len(result.unfinished))
    rep.row("unsafe stored HTML", len(result.unsafe_html))
    rep.add("  verdicts other than processed, by kind:")
    for reason, count in result.reasons.most_common(12):
        rep.add(f"    {count:>6}  {reason}")
    for item in [*result.unhandled[:3], *result.unfinished[:5], *result.unsafe_html[:5]]:
        rep.add(f"  ! {item}")
    if result.saved_to:
        rep.add(f"  failing messages saved under {result.saved_to}")
    rep.add("")
    rep.add(
        f"unhandled = {len(result.unhandled)}, unfinished = {len(result.unfinished)}, "
        f"unsafe html = {len(result.unsafe_html)}: " + ("PASS" if result.ok else "FAIL")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    rep = harness.Report("fuzz", "Chaos: fuzz (mutated and generated MIME through the pipeline)")
    result = asyncio.run(run_fuzz(args.n, seed_value=args.seed, keep_db=args.keep_db))
    report(result, n=args.n, seed_value=args.seed, rep=rep)
    if not args.no_report:
        rep.write(harness.command_line(), verdict="PASS" if result.ok else "FAIL")
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
