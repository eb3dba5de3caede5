"""What an admin watches: scheduled jobs (schedule, next run, run now, a run's log) and the mail
log (a quarantined message with its headers, parse result and raw bytes, released into a ticket)."""

from __future__ import annotations

import re
import time
import uuid
from email.message import EmailMessage

import pytest
from playwright.sync_api import expect

from tests.web.conftest import ADMIN, AGENT, HELP_ADDRESS, screenshot, sign_in

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


def quarantined_mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Stranger <stranger@outside.example>"
    message["To"] = HELP_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@outside.example>"
    message.set_content("다른 사람의 티켓 번호를 제목에 넣은 메일입니다.")
    return message


def test_admin_releases_a_quarantined_mail_from_the_mail_log(new_page, system, tmp_path) -> None:
    # A stranger naming someone else's ticket in the subject is held as a possible hijack.
    with system.api(AGENT) as api:
        target = api.get("/tickets", params={"sort": "created", "limit": 1}).json()["items"][0]
    marker = uuid.uuid4().hex[:8]
    subject = f"[#{target['number']}] 확인 부탁 {marker}"
    system.send_mail(quarantined_mail(subject), sender="stranger@outside.example")
    with system.api(ADMIN) as api:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = api.get("/admin/inbound", params={"status": "quarantined", "q": marker}).json()
            if held["items"]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(system.processes["mailgateway"].tail())

    page = new_page()
    sign_in(page, ADMIN)
    page.goto("/admin/mail")
    expect(page.locator("[role=tab][data-status=quarantined]")).to_have_attribute(
        "aria-selected", "true"
    )
    row = page.get_by_test_id("inbound-row").filter(has_text=marker)
    expect(row).to_be_visible()
    screenshot(page, "admin-mail-log")
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/admin/mail/\d+$"))
    expect(page.get_by_test_id("inbound-reason")).to_contain_text("hijack")
    expect(page.get_by_test_id("inbound-headers")).to_contain_text("stranger@outside.example")
    expect(page.get_by_test_id("parse-result")).not_to_have_text("—")
    screenshot(page, "admin-mail-detail")

    # The raw message downloads as it arrived.
    with page.expect_download() as download:
        page.get_by_test_id("raw-download").click()
    raw = tmp_path / "raw.eml"
    download.value.save_as(raw)
    assert marker.encode() in raw.read_bytes()

    # Released as a new ticket (no ticket id given): it leaves quarantine and gets its ticket.
    page.get_by_test_id("release").click()
    expect(page.locator("main")).to_contain_text(re.compile("처리됨"), timeout=30_000)
    expect(page.locator("main").get_by_role("link", name=re.compile(r"^#\d+"))).to_be_visible()


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
