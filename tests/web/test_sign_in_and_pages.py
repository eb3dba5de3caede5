"""Sign-in (password, magic link by mail), role homes and guards, keyboard shortcuts, and a tour
of every main page as each role: each one renders its content or its empty state with no console
error, and leaves a screenshot."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.web.conftest import ADMIN, AGENT, REQUESTER, failed_request, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_wrong_password_is_refused_in_place(new_page, problems) -> None:
    page = new_page()
    problems.allow(failed_request(401, "auth/login"))
    page.goto("/login")
    page.fill("#email", AGENT)
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert").filter(has_text="비밀번호")).to_contain_text(
        "이메일 또는 비밀번호가 올바르지 않습니다"
    )
    expect(page).to_have_url(re.compile(r"/login"))


def test_magic_link_from_the_mail_signs_the_requester_in(new_page, system, problems) -> None:
    problems.allow(failed_request(401, "auth/magic-link/verify"))  # the second, refused use
    page = new_page()
    page.goto("/login")
    page.get_by_role("tab", name="메일로 로그인 링크 받기").click()
    page.fill("#email", REQUESTER)
    page.get_by_role("button", name="로그인 링크 보내기").click()
    expect(page.get_by_role("status").filter(has_text="로그인 링크를 보냈습니다")).to_be_visible()

    mail = system.capture.find(lambda m: REQUESTER in str(m["To"]) and "/auth/magic" in _text(m))
    link = re.search(r"https?://\S+/auth/magic\?token=[\w\-.~%]+", _text(mail))
    assert link, _text(mail)
    page.goto(link.group(0))
    page.wait_for_url("**/requests")
    expect(page.get_by_test_id("current-user")).to_contain_text("박학생")

    # A link works once.
    again = new_page()
    again.goto(link.group(0))
    expect(again.get_by_role("alert").filter(has_text="링크")).to_contain_text(
        "만료되었거나 이미 사용"
    )


def test_signed_out_visitors_go_to_sign_in_and_come_back(new_page, problems) -> None:
    # Signed out, the queue's early list request is refused like the session check.
    problems.allow(failed_request(401, r"tickets\?.*"))
    page = new_page()
    page.goto("/tickets?view=open")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#email", AGENT)
    page.fill("#password", "servicedesk")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets\?view=open$"))


def test_requesters_cannot_open_agent_or_admin_screens(new_page) -> None:
    page = new_page()
    sign_in(page, REQUESTER)
    for path in ("/tickets", "/admin/users"):
        page.goto(path)
        page.wait_for_url("**/requests")


def test_keyboard_shortcuts_in_the_queue_and_on_a_ticket(new_page) -> None:
    page = new_page()
    sign_in(page, AGENT)
    page.goto("/tickets?view=all")
    rows = page.get_by_test_id("queue-row")
    expect(rows.nth(1)).to_be_visible()
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("?")
    help_overlay = page.get_by_test_id("shortcut-help")
    expect(help_overlay).to_contain_text("다음 티켓")
    screenshot(page, "agent-shortcuts-help")
    page.keyboard.press("Escape")
    expect(help_overlay).to_be_hidden()

    first_id = rows.nth(0).get_attribute("data-ticket-id")
    second_id = rows.nth(1).get_attribute("data-ticket-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tickets/{first_id}")
    expect(page.get_by_test_id("composer")).to_be_visible()
    page.keyboard.press("n")
    expect(page.get_by_test_id("composer")).to_have_attribute("data-mode", "internal")
    expect(page.get_by_test_id("composer-body")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.get_by_test_id("composer")).to_have_attribute("data-mode", "public")
    page.keyboard.press("Escape")
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.ok):
        page.keyboard.press("e")
    expect(page.get_by_test_id("ticket-status")).to_have_value("resolved")
    page.keyboard.press("j")
    page.wait_for_url(f"**/tickets/{second_id}")
    expect(page.get_by_test_id("composer")).to_be_visible()
    page.keyboard.press("k")
    page.wait_for_url(f"**/tickets/{first_id}")


ADMIN_PAGES = [
    ("/admin/users", "사용자", "admin-users"),
    ("/admin/teams", "팀", "admin-teams"),
    ("/admin/categories", "분류", "admin-categories"),
    ("/admin/canned", "상용 답변", "admin-canned"),
    ("/admin/sla", "SLA 정책", "admin-sla"),
    ("/admin/calendars", "업무 달력", "admin-calendars"),
    ("/admin/jobs", "예약 작업", "admin-jobs-list"),
    ("/admin/mail?status=processed", "수신 메일", "admin-mail-processed"),
    ("/admin/outbound", "발신 메일", "admin-outbound"),
    ("/notifications", "알림", "notifications"),
]


def test_every_admin_page_renders_content_or_an_empty_state(new_page) -> None:
    page = new_page()
    sign_in(page, ADMIN)
    for path, title, shot in ADMIN_PAGES:
        page.goto(path)
        expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
        content = page.locator("table, [data-testid=empty-state], [data-testid=notifications]")
        expect(content.first).to_be_visible()
        expect(page.get_by_test_id("skeleton")).to_have_count(0)
        screenshot(page, shot)


def test_admin_adds_a_canned_response_the_agent_inserts(new_page) -> None:
    admin = new_page()
    sign_in(admin, ADMIN)
    admin.goto("/admin/canned")
    admin.get_by_role("button", name="상용 답변 추가").first.click()
    admin.get_by_label("제목").fill("프린터 재시작 안내")
    admin.get_by_label("본문").fill("프린터 전원을 껐다가 30초 후 다시 켜 주세요.")
    admin.get_by_role("button", name="저장").click()
    expect(admin.get_by_test_id("admin-table")).to_contain_text("프린터 재시작 안내")

    agent = new_page()
    sign_in(agent, AGENT)
    agent.goto("/tickets?view=all")
    agent.get_by_test_id("queue-row").first.get_by_role("link").click()
    agent.get_by_role("button", name=re.compile("상용 답변")).click()
    agent.get_by_role("button", name=re.compile("프린터 재시작 안내")).click()
    expect(agent.get_by_test_id("composer-body")).to_have_value(re.compile("30초 후 다시 켜"))


def test_requester_pages(new_page, problems) -> None:
    problems.allow(failed_request(404, r"tickets/999999(/comments)?"))
    page = new_page()
    sign_in(page, REQUESTER)
    expect(
        page.get_by_test_id("request-list").or_(page.get_by_test_id("empty-state"))
    ).to_be_visible()
    screenshot(page, "requester-my-requests")
    page.goto("/requests/new")
    expect(page.get_by_role("heading", level=1, name="새 요청")).to_be_visible()
    page.goto("/requests/999999")
    expect(page.get_by_role("alert").filter(has_text="찾을 수 없습니다")).to_be_visible()


def _text(message) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/"]
)
def test_sign_in_never_redirects_off_site(new_page, target: str) -> None:
    page = new_page()
    page.goto("/login?next=" + quote(target, safe=""))
    page.fill("#email", AGENT)
    page.fill("#password", "servicedesk")
    page.click("button[type=submit]")
    page.wait_for_url("**/tickets")
    assert "evil.example" not in page.url
