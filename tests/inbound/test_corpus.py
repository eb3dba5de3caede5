"""Every mail of the shared corpus (real mail from other projects' test suites: malformed MIME,
unknown charsets, bounces, nested messages, Korean Outlook headers) goes through the whole
pipeline, by the workers' own code path. Each must end processed, ignored or quarantined (the
last two with a reason); no exception may escape a step (that would show as a retry); none may be
left unfinished."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import db
from core.config import Settings
from core.inbound import service
from core.inbound.service import ReceivedMail
from core.models import Comment, InboundMessage, Ticket
from mailgateway.worker import drain
from tests.inbound.mails import HELP

# ../shared/corpus relative to the repository (read in place, never copied).
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")
async def test_every_corpus_mail_ends_processed_ignored_or_quarantined(
    committed_db: AsyncEngine, inbound_settings: Settings
) -> None:
    files = _corpus_files()
    assert len(files) >= 100, f"expected the 140-mail corpus at {CORPUS}, found {len(files)}"
    # One attempt only: an exception in any step would surface as a quarantine "failed 1 times".
    settings = inbound_settings.model_copy(
        update={"mail_max_attempts": 1, "mail_sender_rate_limit": 1000}
    )
    async with db.session_scope() as session:
        ids = await service.receive(
            session,
            [
                ReceivedMail(
                    mail_from="" if "bounce" in path.name else "corpus@example.org",
                    rcpt_to=[HELP],
                    raw=path.read_bytes(),
                    peer="127.0.0.1:25",
                )
                for path in files
            ],
        )
    assert await drain(settings) == len(files)

    async with AsyncSession(committed_db) as session:
        rows = list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
        by_file = dict(zip((str(p.relative_to(CORPUS)) for p in files), rows, strict=True))
        escaped = {
            name: row.reason
            for name, row in by_file.items()
            if row.reason and row.reason.startswith("failed ")
        }
        assert not escaped, f"exceptions escaped the pipeline: {escaped}"
        unfinished = [n for n, r in by_file.items() if r.status in ("received", "processing")]
        assert not unfinished
        for name, row in by_file.items():
            assert row.status in ("processed", "ignored", "quarantined"), (name, row.status)
            assert row.attempts == 1 and row.processed_at is not None, name
            if row.status != "processed":
                assert row.reason, f"{name} is {row.status} without a reason"
            assert row.parse_result and row.parse_result["steps"], name
        # Most of the corpus is ordinary mail and becomes tickets.
        statuses = [r.status for r in rows]
        assert statuses.count("processed") > len(rows) // 2, statuses
        # Specific cases the corpus is there for:
        korean = by_file["Webklex__php-imap/ks_c_5601-1987_headers.eml"]
        assert korean.subject == "RE: 회원님께 Ersi님이 메시지를 보냈습니다."
        bounce = by_file["Webklex__php-imap/example_bounce.eml"]
        assert bounce.reason and bounce.reason.startswith("bounce"), bounce.reason
        assert bounce.comment_id is None
        tickets = await session.scalar(select(func.count()).select_from(Ticket))
        comments = await session.scalar(select(func.count()).select_from(Comment))
        assert tickets and comments and len(ids) == len(files)
