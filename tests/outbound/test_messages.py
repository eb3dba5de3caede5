"""What the mails look like on the wire: language, subject tag, signed Message-ID and Reply-To,
auto-reply headers, threading, parts and attachments, captured by a real SMTP server."""

from __future__ import annotations

from core import db
from core.mail.tokens import parse_message_id, parse_reply_token, split_plus_address
from core.models import Channel, CommentSource, Role, TicketStatus, Visibility
from core.outbox.render import REPLY_MARKER_EN, REPLY_MARKER_KO
from core.tickets import repository as tickets_repo
from core.tickets import service as tickets
from tests.outbound.support import capture_server, drain, make_user, smtp_settings


def _parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


async def test_acknowledgement_in_the_requesters_language(committed_db) -> None:
    kim = await make_user("kim@student.ac.kr", name="김학생", locale="ko")
    jane = await make_user("jane@prof.ac.kr", name="Jane Doe", locale="en")
    async with db.session_scope() as session:
        ko_ticket, _ = await tickets.open_ticket(
            session,
            requester=kim,
            subject="연구실 프린터가 안 됩니다",
            body_text="인쇄가 안 됩니다.",
            channel=Channel.email,
            message_id="<kim-1@student.ac.kr>",
        )
        en_ticket, _ = await tickets.open_ticket(
            session, requester=jane, subject="VPN access", body_text="Please."
        )
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))

    assert len(relay.messages) == 2
    [ko] = relay.handler.to("kim@student.ac.kr")
    message = ko.message
    assert (
        message["Subject"]
        == f"[#{ko_ticket.number}] 요청이 접수되었습니다: 연구실 프린터가 안 됩니다"
    )
    assert parse_message_id(message["Message-ID"]) == ko_ticket.id
    base, token = split_plus_address(message["Reply-To"].addresses[0].addr_spec)
    assert base == "help@test.ac.kr"
    claims = parse_reply_token(token)
    assert claims is not None and (claims.ticket_id, claims.user_id) == (ko_ticket.id, kim.id)
    assert claims.note is False
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["X-Servicedesk-Loop"] == "help@test.ac.kr"
    # Threads under the requester's own mail.
    assert message["In-Reply-To"] == "<kim-1@student.ac.kr>"
    assert "<kim-1@student.ac.kr>" in message["References"]
    text, html = _parts(message)
    assert REPLY_MARKER_KO in text and REPLY_MARKER_EN in text and REPLY_MARKER_KO in html
    assert "김학생님" in text and "김학생님" in html
    assert ko.mail_from == "help@test.ac.kr"
    # 7-bit clean on the wire: Korean travels encoded.
    assert max(ko.data) < 128

    [en] = relay.handler.to("jane@prof.ac.kr")
    message = en.message
    assert message["Subject"] == f"[#{en_ticket.number}] We received your request: VPN access"
    text, _ = _parts(message)
    assert text.startswith(REPLY_MARKER_KO) and "Hello Jane Doe" in text
    assert parse_reply_token(split_plus_address(message["Reply-To"].addresses[0].addr_spec)[1])


async def test_agent_web_reply_reaches_requester_and_ccs_threaded(committed_db) -> None:
    requester = await make_user("req@univ.ac.kr", name="요청자", locale="ko")
    cc = await make_user("cc@univ.ac.kr", name="Colleague", locale="en")
    agent = await make_user("agent@univ.ac.kr", name="김상담", role=Role.agent)
    async with db.session_scope() as session:
        ticket, _ = await tickets.open_ticket(
            session,
            requester=requester,
            subject="메일함 용량",
            body_text="용량이 가득 찼습니다.",
            channel=Channel.email,
            message_id="<orig@univ.ac.kr>",
        )
        await tickets.add_participant(session, ticket=ticket, user=cc)
    async with capture_server() as relay:
        settings = smtp_settings(relay.port)
        await drain(committed_db, settings)
        [ack] = relay.messages
        async with db.session_scope() as session:
            ticket = await tickets_repo.get_ticket(session, ticket.id)
            await tickets.add_comment(
                session,
                ticket=ticket,
                author=agent,
                body_text="용량을 2GB 늘렸습니다.\n확인 부탁드립니다.",
                visibility=Visibility.public,
                source=CommentSource.web,
            )
            # An internal note goes to nobody.
            await tickets.add_comment(
                session,
                ticket=ticket,
                author=agent,
                body_text="내부 메모",
                visibility=Visibility.internal,
            )
        await drain(committed_db, settings)

    replies = relay.messages[1:]
    assert sorted(r for m in replies for r in m.rcpt_tos) == ["cc@univ.ac.kr", "req@univ.ac.kr"]
    ack_id = ack.message["Message-ID"]
    for captured in replies:
        message = captured.message
        assert message["Subject"] == f"[#{ticket.number}] Re: 메일함 용량"
        assert message["Auto-Submitted"] == "auto-generated"
        references = message["References"].split()
        # The thread: the requester's mail first, then what we sent before.
        assert references[0] == "<orig@univ.ac.kr>"
        assert ack_id in references
        assert message["In-Reply-To"] == references[-1]
        assert parse_message_id(message["Message-ID"]) == ticket.id
        text, html = _parts(message)
        assert "용량을 2GB 늘렸습니다." in text and "내부 메모" not in text
        assert "용량을 2GB 늘렸습니다." in html
        assert "김상담" in str(message["From"])
        token = parse_reply_token(split_plus_address(message["Reply-To"].addresses[0].addr_spec)[1])
        assert token is not None and token.ticket_id == ticket.id
    [to_cc] = [m for m in replies if m.rcpt_tos == ["cc@univ.ac.kr"]]
    assert "replied to your request" in _parts(to_cc.message)[0]  # the CC reads English
    assert not any("agent@univ.ac.kr" in m.rcpt_tos for m in relay.messages)


async def test_requester_reply_goes_to_assignee_and_resolution_to_requester(
    committed_db,
) -> None:
    requester = await make_user("r2@univ.ac.kr", name="Requester", locale="en")
    agent = await make_user("a2@univ.ac.kr", name="Agent Two", role=Role.agent, locale="en")
    boss = await make_user("boss@univ.ac.kr", name="Boss", role=Role.admin)
    async with db.session_scope() as session:
        ticket, _ = await tickets.open_ticket(
            session, requester=requester, subject="Laptop", body_text="Broken screen."
        )
        await tickets.assign(session, ticket=ticket, assignee=agent, actor=boss)
        await tickets.add_comment(
            session,
            ticket=ticket,
            author=requester,
            body_text="Any news?",
            source=CommentSource.web,
        )
        await tickets.change_status(
            session, ticket=ticket, status=TicketStatus.resolved, actor=agent
        )
    async with capture_server() as relay:
        await drain(committed_db, smtp_settings(relay.port))
    to_agent = sorted(m.message["Subject"] for m in relay.handler.to("a2@univ.ac.kr"))
    assert to_agent == [
        f"[#{ticket.number}] Assigned to you: Laptop",
        f"[#{ticket.number}] Requester replied: Laptop",
    ]
    [reply_note] = [
        m for m in relay.handler.to("a2@univ.ac.kr") if "replied" in m.message["Subject"]
    ]
    text = _parts(reply_note.message)[0]
    assert "Any news?" in text
    # The agent's Reply-To answers the requester; the note address is offered separately.
    reply_token = parse_reply_token(
        split_plus_address(reply_note.message["Reply-To"].addresses[0].addr_spec)[1]
    )
    assert reply_token is not None and reply_token.user_id == agent.id and not reply_token.note
    assert "help+n-" in text
    subjects = sorted(m.message["Subject"] for m in relay.handler.to("r2@univ.ac.kr"))
    assert subjects == [
        f"[#{ticket.number}] We received your request: Laptop",
        f"[#{ticket.number}] Your request was resolved: Laptop",
    ]
    assert not relay.handler.to("boss@univ.ac.kr")
