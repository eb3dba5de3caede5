"""Pipeline harness: mails go in through `service.receive` (what the listener calls) and are
worked by the same claim/process functions the workers use, on the test's session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings, get_settings
from core.inbound import repository, service
from core.inbound.service import ReceivedMail
from core.models import InboundMessage
from tests.inbound.mails import HELP


@pytest.fixture
def inbound_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    # Services that read the process settings themselves (the mail log) see the same values.
    monkeypatch.setenv("LOCAL_UPLOAD_ROOT", str(tmp_path / "uploads"))
    monkeypatch.setenv("HELPDESK_ADDRESSES", HELP)
    get_settings.cache_clear()
    settings = get_settings().model_copy(update={"mail_retry_base_seconds": 0})
    yield settings
    get_settings.cache_clear()


Ingest = Callable[..., Awaitable[InboundMessage]]


@pytest.fixture
def ingest(session: AsyncSession, inbound_settings: Settings) -> Ingest:
    async def run(
        message: EmailMessage | bytes,
        *,
        rcpt_to: list[str] | None = None,
        mail_from: str = "sender@univ.ac.kr",
        settings: Settings | None = None,
    ) -> InboundMessage:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        [inbound_id] = await service.receive(
            session, [ReceivedMail(mail_from=mail_from, rcpt_to=rcpt_to or [HELP], raw=raw)]
        )
        for claim in await service.claim_batch(
            session, settings=settings or inbound_settings, limit=100
        ):
            await service.process_claimed(
                session, claims=[claim], settings=settings or inbound_settings
            )
        row = await repository.get(session, inbound_id)
        assert row is not None
        return row

    return run
