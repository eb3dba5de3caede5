"""What an admin watches: scheduled jobs (schedule, next run, run now, a run's log) and the mail
log (a quarantined message with its sender trust, headers, parse result and raw bytes, released
into a ticket; several released at once, with what could not be)."""

from __future__ import annotations

import re
import time
import uuid
from email.message import EmailMessage

import pytest
from playwright.sync_api import expect

from tests.web.conftest import (
    ADMIN,
    AGENT,
    HELP_ADDRESS,
    RELAY_AUTHSERV_ID,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.browser

FINISHED = re.compile("성공|실패|건너뜀")


def test_admin_runs_a_job_now_and_reads_its_log(new_page) -> None:
    page = new_page()
    sign_in(page, ADMIN)
    page.goto("/admin")
    page.wait_for_url("**/admin/jobs")
    row = page.locator("[data-testid=job-row][data-job-id=purge_stale_uploads]")
    expect(row).to_be_visible()
    expect(page.get_by_test_id("job-row")).not_to_have_count(0)
    screenshot(page, "admin-jobs")

    row.get_by_test_id("run-now").click()
    page.wait_for_url(re.compile(r"/admin/jobs/runs/\d+$"))
    run_id = page.url.rsplit("/", 1)[1]
    # Queued, then picked up by the scheduler process, then finished: the page follows it.
    expect(page.get_by_role("heading", name=f"실행 #{run_id}")).to_be_visible()
    expect(page.locator("main")).to_contain_text(FINISHED, timeout=60_000)
    expect(page.get_by_test_id("run-meta")).to_contain_text("manual")
    screenshot(page, "admin-job-run")

    page.get_by_role("link", name=re.compile("실행 기록")).click()
    page.wait_for_url("**/admin/jobs/purge_stale_uploads")
    expect(page.get_by_test_id("run-row").first).to_contain_text(run_id)


def quarantined_mail(subject: str, *, relay_verified: bool = False) -> EmailMessage:
    message = EmailMessage()
    if relay_verified:
        # The relay's verdict on top, then its Received line and the sender's; an A-R the sender
        # wrote below those is a forgery the gateway must set aside.
        message["Authentication-Results"] = (
            f"{RELAY_AUTHSERV_ID}; dmarc=pass (p=reject) header.from=outside.example; "
            "spf=pass smtp.mailfrom=stranger@outside.example"
        )
        message["Received"] = f"from mail.outside.example by {RELAY_AUTHSERV_ID}"
        message["Received"] = "from laptop by mail.outside.example"
        message["Authentication-Results"] = (
            f"{RELAY_AUTHSERV_ID}; dkim=pass header.d=outside.example"
        )
    message["From"] = "Stranger <stranger@outside.example>"
    message["To"] = HELP_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@outside.example>"
    message.set_content(f"다른 사람의 티켓 번호를 제목에 넣은 메일입니다: {subject}")
    return message


def first_ticket(system) -> dict:
    with system.api(AGENT) as api:
        return api.get("/tickets", params={"sort": "created", "limit": 1}).json()["items"][0]


def wait_quarantined(system, marker: str, count: int = 1) -> list[dict]:
    """The gateway answers 250 before the pipeline runs: poll the mail log for the verdicts."""
    with system.api(ADMIN) as api:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = api.get("/admin/inbound", params={"status": "quarantined", "q": marker}).json()
            if len(held["items"]) >= count:
                return held["items"]
            time.sleep(0.5)
    raise AssertionError(system.processes["mailgateway"].tail())


def test_admin_releases_a_quarantined_mail_from_the_mail_log(new_page, system, tmp_path) -> None:
    # A stranger naming someone else's ticket in the subject is held as a possible hijack, even
    # when the relay vouches for the sender's domain.
    target = first_ticket(system)
    marker = uuid.uuid4().hex[:8]
    subject = f"[#{target['number']}] 확인 부탁 {marker}"
    system.send_mail(
        quarantined_mail(subject, relay_verified=True), sender="stranger@outside.example"
    )
    wait_quarantined(system, marker)

    page = new_page()
    sign_in(page, ADMIN)
    page.goto("/admin/mail")
    expect(page.locator("[role=tab][data-status=quarantined]")).to_have_attribute(
        "aria-selected", "true"
    )
    row = page.get_by_test_id("inbound-row").filter(has_text=marker)
    expect(row).to_be_visible()
    expect(row.get_by_test_id("trust-badge")).to_have_text("발신 인증됨")
    expect(row).to_contain_text("탈취 의심")
    screenshot(page, "admin-mail-log")
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/mail/\d+$"))
    # The reason in Korean, with the pipeline's own words (the addresses) under it.
    expect(page.get_by_test_id("inbound-reason")).to_contain_text("탈취 의심")
    expect(page.get_by_test_id("inbound-reason")).to_contain_text("hijack")

    # Sender trust: who connected, what the relay proved, what was set aside as forged.
    trust = page.get_by_test_id("trust-section")
    expect(trust.get_by_test_id("trust-level")).to_contain_text("발신 인증됨")
    expect(trust.get_by_test_id("trust-standing")).to_contain_text("판단 전에 격리됨")
    expect(trust.get_by_test_id("trust-peer")).to_contain_text("127.0.0.1")
    expect(trust.get_by_test_id("trust-peer")).to_contain_text("신뢰하는 중계 서버")
    expect(trust.get_by_test_id("trust-from")).to_have_text("stranger@outside.example")
    results = trust.get_by_test_id("trust-result")
    expect(results).to_have_count(2)
    expect(results.filter(has_text="dmarc")).to_contain_text("pass")
    expect(results.filter(has_text="dmarc")).to_contain_text("outside.example")
    expect(results.filter(has_text="spf")).to_contain_text("예")
    expect(trust.get_by_test_id("trust-ignored")).to_contain_text(
        f"중계 서버의 Received 줄 아래에 있는 {RELAY_AUTHSERV_ID} 헤더 (위조)"
    )
    steps = page.get_by_test_id("pipeline-steps")
    expect(steps.locator("[data-step=authenticate]")).to_contain_text("발신 인증")
    expect(steps.locator("[data-step=authenticate]")).to_contain_text("dmarc=pass")
    expect(page.get_by_test_id("inbound-headers")).to_contain_text("stranger@outside.example")
    expect(page.get_by_test_id("parse-result")).not_to_have_text("—")
    screenshot(page, "admin-mail-detail")

    # The raw message downloads as it arrived.
    with page.expect_download() as download:
        page.get_by_test_id("raw-download").click()
    raw = tmp_path / "raw.eml"
    download.value.save_as(raw)
    assert marker.encode() in raw.read_bytes()

    # Released as a new ticket (no ticket id given), as claimed: it leaves quarantine, gets its
    # ticket, and its comment there says what was proven about the sender.
    expect(page.get_by_test_id("release-mode-as_claimed")).to_be_checked()
    page.get_by_test_id("release").click()
    expect(page.locator("main")).to_contain_text(re.compile("처리됨"), timeout=30_000)
    ticket_link = page.locator("main").get_by_role("link", name=re.compile(r"^#\d+"))
    expect(ticket_link).to_be_visible()
    ticket_link.click()
    page.wait_for_url(re.compile(r"/tickets/\d+$"))
    mail_comment = page.get_by_test_id("comment").filter(has=page.get_by_test_id("trust-badge"))
    expect(mail_comment.get_by_test_id("trust-badge")).to_have_text("발신 인증됨")
    screenshot(page, "admin-released-ticket")


def test_admin_releases_quarantined_mail_in_bulk(new_page, system) -> None:
    target = first_ticket(system)
    marker = uuid.uuid4().hex[:8]
    for n in (1, 2, 3):
        subject = f"[#{target['number']}] 같은 문제 {n} {marker}"
        system.send_mail(quarantined_mail(subject), sender="stranger@outside.example")
    held = wait_quarantined(system, marker, count=3)

    page = new_page()
    sign_in(page, ADMIN)
    page.goto(f"/admin/mail?status=quarantined&q={marker}")
    rows = page.get_by_test_id("inbound-row")
    expect(rows).to_have_count(3)
    expect(rows.get_by_test_id("trust-badge")).to_have_text(["발신 미인증"] * 3)
    # The trust filter: none of them is verified, all three are unverified.
    page.get_by_test_id("inbound-trust-filter").select_option("verified")
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    page.get_by_test_id("inbound-trust-filter").select_option("unverified")
    expect(rows).to_have_count(3)
    page.get_by_test_id("inbound-select-all").check()
    expect(page.get_by_test_id("mail-bulk-bar")).to_contain_text("3개 선택")
    page.get_by_test_id("bulk-release-mode").select_option("plain")

    # Someone else releases one first: the bulk release reports it instead of failing it all.
    early = held[0]["id"]
    with system.api(ADMIN) as api:
        api.post(f"/admin/inbound/{early}/release", json={"mode": "plain"}).raise_for_status()
    page.get_by_test_id("bulk-release").click()
    result = page.get_by_test_id("bulk-result")
    expect(result.get_by_test_id("bulk-released")).to_have_text("2개를 해제했습니다")
    expect(result).to_contain_text("1개는 해제하지 못했습니다")
    failure = result.get_by_test_id("bulk-failures")
    expect(failure).to_contain_text(f"#{early}")
    expect(failure).to_contain_text("only quarantined or ignored")
    # The released ones leave the quarantine list.
    expect(rows).to_have_count(0)
    screenshot(page, "admin-mail-bulk-release")

    # Onto the ticket their verdict named, as plain comments showing their sender is unverified.
    with system.api(ADMIN) as api:
        released = [
            m
            for m in api.get("/admin/inbound", params={"q": marker}).json()["items"]
            if m["id"] != early
        ]
    assert {m["status"] for m in released} == {"processed"}
    assert {m["ticket_id"] for m in released} == {target["id"]}
    page.goto(f"/tickets/{target['id']}")
    comments = page.get_by_test_id("comment").filter(has_text=marker)
    expect(comments).to_have_count(2)
    expect(comments.get_by_test_id("trust-badge")).to_have_text(["발신 미인증"] * 2)
    page.goto(f"/admin/mail/{released[0]['id']}")
    expect(page.get_by_test_id("trust-standing")).to_have_text("관리자가 일반 댓글로 해제")


def test_sla_policy_made_in_admin_drives_the_ticket_countdown(new_page, system) -> None:
    marker = uuid.uuid4().hex[:6]
    admin = new_page()
    sign_in(admin, ADMIN)
    admin.goto("/admin/sla")
    admin.get_by_role("button", name="정책 추가").first.click()
    admin.get_by_label("이름", exact=True).fill(f"긴급 {marker}")
    admin.get_by_label("우선순위", exact=True).select_option("urgent")
    admin.get_by_label("첫 응답 (분)").fill("30")
    admin.get_by_label("해결 (분)").fill("240")
    admin.get_by_role("button", name="저장").click()
    expect(admin.get_by_test_id("admin-table")).to_contain_text(f"긴급 {marker}")
    screenshot(admin, "admin-sla-policy")

    with system.api(AGENT) as api:
        created = api.post(
            "/tickets",
            json={
                "subject": f"서버실 정전 {marker}",
                "body": "서버실 전원이 나갔습니다.",
                "priority": "urgent",
                "attachment_ids": [],
            },
        )
        created.raise_for_status()
        ticket = created.json()
    assert ticket["first_response_due_at"], ticket

    agent = new_page()
    sign_in(agent, AGENT)
    agent.goto(f"/tickets/{ticket['id']}")
    countdowns = agent.get_by_test_id("sla-countdown")
    expect(countdowns.first).to_contain_text("첫 응답")
    expect(countdowns.first).to_contain_text(re.compile("남음|초과"))
    screenshot(agent, "agent-ticket-sla")


def test_admin_reads_decoding_notes_and_names_the_requester_of_a_senderless_mail(
    new_page, system
) -> None:
    """Issue #16: what the parser guessed and mended is in the mail log, in Korean; a mail whose
    sender is unusable (root@localhost) is released with a requester the admin names."""
    import smtplib

    marker = uuid.uuid4().hex[:8]
    raw = (
        b"From: root@localhost\r\nTo: " + HELP_ADDRESS.encode() + b"\r\n"
        b"X-Tracking: id=1;campaign=renewal;\r\nregion=apac\r\n"
        b"Subject: " + "打印机无法使用".encode("gb2312") + b" " + marker.encode() + b"\r\n"
        b"Message-ID: <" + marker.encode() + b"@server>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "三楼的打印机不能打印。\r\n".encode("gb2312")
    )
    with smtplib.SMTP("127.0.0.1", system.smtp_port, timeout=30) as smtp:
        smtp.sendmail("", [HELP_ADDRESS], raw)
    [held] = wait_quarantined(system, marker)

    page = new_page()
    sign_in(page, ADMIN)
    page.goto(f"/admin/mail/{held['id']}")
    notes = page.get_by_test_id("parse-notes")
    expect(notes).to_contain_text("들여쓰기 없는 헤더 이어짐 줄을 복구했습니다")
    expect(notes).to_contain_text("메일이 선언한 gb18030")
    page.get_by_test_id("release-requester").fill("printer.owner@univ.ac.kr")
    page.get_by_test_id("release").click()
    expect(page.locator("main")).to_contain_text(re.compile("처리됨"), timeout=30_000)
    page.locator("main").get_by_role("link", name=re.compile(r"^#\d+")).click()
    page.wait_for_url(re.compile(r"/tickets/\d+$"))
    expect(page.locator("main")).to_contain_text(f"打印机无法使用 {marker}")
    expect(page.locator("main")).to_contain_text("printer.owner")
    screenshot(page, "admin-decoding-notes-release")
