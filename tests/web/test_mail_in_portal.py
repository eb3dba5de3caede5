"""Mail that arrives over SMTP, seen in the agent's portal: it lands in the queue with its
attachment downloadable, and HTML built to attack the viewer renders with nothing active.

The attack is checked twice: once through the real pipeline (the API's sanitiser, then the
sandboxed frame), and once with the raw HTML written straight into the database, as if the
sanitiser had missed everything, so the frame (sandbox="", CSP) has to hold on its own.
"""

from __future__ import annotations

import hashlib
import uuid
from email.message import EmailMessage

import psycopg
import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import make_url

from tests.web.conftest import AGENT, ARTIFACTS, HELP_ADDRESS, screenshot, sign_in

pytestmark = pytest.mark.browser

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2f9c3a70000000049454e44ae426082"
)
SPREADSHEET = b"PK\x03\x04" + bytes(range(256)) * 64


def hostile_html(marker: str, steal_url: str) -> str:
    return f"""
<div><p>안녕하세요, 계정 잠금 문의드립니다. <b>{marker}</b></p>
<img src="cid:logo@evil.example" alt="logo">
<script>window.top.__xss = "script"; alert("script")</script>
<img src="x" onerror="window.top.__xss='onerror'; alert('onerror')">
<svg onload="window.top.__xss='svg'"></svg>
<a id="js-link" href="javascript:window.top.__xss='link';alert('link')">여기를 누르세요</a>
<form id="steal" action="{steal_url}" method="post"><input name="password" value="hunter2">
<button id="steal-button" type="submit">로그인</button></form>
<iframe srcdoc="<script>window.top.__xss='nested'</script>"></iframe>
<meta http-equiv="refresh" content="0;url=javascript:window.top.__xss='refresh'">
<blockquote>--- 이전 메일 ---<br>지난번 문의 내용</blockquote></div>
"""


def hostile_mail(subject: str, marker: str, steal_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Mallory <mallory@evil.example>"
    message["To"] = HELP_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@evil.example>"
    message.set_content(f"안녕하세요, 계정 잠금 문의드립니다. {marker}")
    message.add_alternative(hostile_html(marker, steal_url), subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(PNG_1X1, "image", "png", cid="<logo@evil.example>", filename="logo.png")
    message.add_attachment(
        SPREADSHEET,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="계정목록.xlsx",
    )
    return message


def open_ticket_from_queue(page, subject: str) -> None:
    page.goto("/tickets?view=all")
    row = page.get_by_test_id("queue-row").filter(has_text=subject)
    expect(row).to_be_visible(timeout=30_000)
    row.get_by_role("link").click()
    expect(page.get_by_test_id("ticket-subject")).to_contain_text(subject)


def wait_for_ticket(system, subject: str) -> dict:
    """The gateway answers 250 before the pipeline runs; poll the API until the ticket exists."""
    import time

    with system.api(AGENT) as api:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = api.get("/tickets", params={"q": subject.split()[-1], "sort": "-created"})
            page.raise_for_status()
            for ticket in page.json()["items"]:
                if ticket["subject"] == subject:
                    return ticket
            time.sleep(0.5)
    raise AssertionError(f"no ticket for {subject!r}\n{system.processes['mailgateway'].tail()}")


def assert_inert(page, frame_index: int = 0) -> None:
    frame_element = page.get_by_test_id("mail-frame").nth(frame_index)
    expect(frame_element).to_have_attribute("sandbox", "")
    frame = frame_element.element_handle().content_frame()
    assert frame is not None
    csp = frame.locator("meta[http-equiv='Content-Security-Policy']")
    expect(csp).to_have_count(1)
    # Clicking the bait does nothing: no script runs in an opaque, script-less frame.
    for selector in ("#js-link", "#steal-button"):
        if frame.locator(selector).count():
            frame.locator(selector).click(timeout=5_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None


def test_mail_over_smtp_reaches_the_queue_and_renders_inert(new_page, system, tmp_path) -> None:
    marker = uuid.uuid4().hex[:8]
    subject = f"계정 잠금 문의 {marker}"
    steal_url = system.api_url + "/steal"
    system.send_mail(hostile_mail(subject, marker, steal_url), sender="mallory@evil.example")
    ticket = wait_for_ticket(system, subject)
    assert ticket["channel"] == "email"

    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    stolen: list[str] = []
    page.on("request", lambda r: stolen.append(r.url) if "/steal" in r.url else None)
    sign_in(page, AGENT)
    open_ticket_from_queue(page, subject)

    frame = page.frame_locator("[data-testid=mail-frame]").first
    expect(frame.locator("body")).to_contain_text(marker)
    # Quoted history is folded until asked for.
    expect(frame.locator("body")).not_to_contain_text("지난번 문의 내용")
    page.get_by_test_id("quote-toggle").first.click()
    expect(frame.locator("body")).to_contain_text("지난번 문의 내용")
    # The inline image (cid:) is shown from the attachment, as a data: URL inside the frame.
    expect(frame.locator("img[alt=logo]")).to_have_attribute(
        "src", __import__("re").compile("^data:image/png")
    )
    assert_inert(page)
    screenshot(page, "agent-mail-ticket")
    page.get_by_test_id("comment").first.screenshot(path=str(ARTIFACTS / "agent-mail-comment.png"))

    # The attachment is listed and downloads intact.
    attachment = page.get_by_test_id("attachment").filter(has_text="계정목록.xlsx").first
    with page.expect_download() as download:
        attachment.get_by_test_id("attachment-download").click()
    saved = tmp_path / "saved.xlsx"
    download.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(SPREADSHEET).digest()

    assert dialogs == []
    assert stolen == []
    assert page.evaluate("window.__xss") is None


def test_unsanitised_html_stays_inert_in_the_frame(new_page, system) -> None:
    """Defence in depth: raw attack HTML in the database (a sanitiser miss) still runs nothing."""
    marker = uuid.uuid4().hex[:8]
    with system.api(AGENT) as api:
        created = api.post(
            "/tickets",
            json={
                "subject": f"원본 HTML {marker}",
                "body": "placeholder",
                "priority": "normal",
                "attachment_ids": [],
            },
        )
        created.raise_for_status()
        ticket_id = created.json()["id"]
    steal_url = system.api_url + "/steal"
    dsn = (
        make_url(system.database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO comments (ticket_id, visibility, source, body_text, body_html) "
            "VALUES (%s, 'public', 'email', %s, %s)",
            (ticket_id, f"raw {marker}", hostile_html(marker, steal_url)),
        )

    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    stolen: list[str] = []
    page.on("request", lambda r: stolen.append(r.url) if "/steal" in r.url else None)
    sign_in(page, AGENT)
    page.goto(f"/tickets/{ticket_id}")
    frame = page.frame_locator("[data-testid=mail-frame]").first
    expect(frame.locator("body")).to_contain_text(marker)
    # The raw markup really is there (script, handler, form): only the frame keeps it inert.
    expect(frame.locator("script")).not_to_have_count(0)
    expect(frame.locator("#steal")).to_have_count(1)
    assert_inert(page)
    screenshot(page, "agent-raw-html-inert")
    assert dialogs == []
    assert stolen == []
