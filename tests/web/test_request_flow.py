"""The round trip a requester and an agent make through the portal, against the real API, database,
storage and outbound sender: a request filed on the web with an attachment reaches the agent's
queue, the agent's reply reaches the requester on the web and by mail, and the requester's answer
raises the agent's unread count."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.web.conftest import AGENT, REQUESTER, screenshot, sign_in

pytestmark = pytest.mark.browser

ATTACHMENT = b"%PDF-1.4\n" + b"printer error log line\n" * 20_000  # ~460 KB: the bar has to move


def test_request_with_attachment_reaches_the_agent_and_the_reply_comes_back(
    new_page, system, tmp_path
) -> None:
    subject = f"프린터 용지 걸림 {uuid.uuid4().hex[:6]}"
    log = tmp_path / "오류 로그.pdf"
    log.write_bytes(ATTACHMENT)

    # --- the requester files the request --------------------------------------------------
    requester = new_page()
    sign_in(requester, REQUESTER)
    requester.wait_for_url("**/requests")
    requester.get_by_role("link", name="새 요청").first.click()
    requester.wait_for_url("**/requests/new")
    requester.get_by_label("제목").fill(subject)
    requester.get_by_label("내용").fill(
        "공학관 301호 프린터에서 용지가 계속 걸립니다.\n로그를 첨부합니다."
    )
    requester.get_by_test_id("file-input").set_input_files(str(log))
    expect(requester.get_by_test_id("upload-done")).to_be_visible()
    screenshot(requester, "requester-new-request")
    requester.get_by_role("button", name="요청 보내기").click()
    requester.wait_for_url(re.compile(r"/requests/\d+$"))
    ticket_id = int(requester.url.rsplit("/", 1)[1])
    expect(requester.get_by_test_id("ticket-subject")).to_contain_text(subject)
    expect(requester.get_by_test_id("attachment").first).to_contain_text("오류 로그.pdf")

    # --- the agent finds it in the queue ----------------------------------------------------
    agent = new_page()
    sign_in(agent, AGENT)
    agent.goto("/tickets?view=open")
    row = agent.get_by_test_id("queue-row").filter(has_text=subject)
    expect(row).to_be_visible()
    expect(agent.get_by_test_id("count-open")).not_to_have_text("0")
    screenshot(agent, "agent-queue")
    row.get_by_role("link").click()
    agent.wait_for_url(f"**/tickets/{ticket_id}")
    expect(agent.get_by_test_id("ticket-subject")).to_contain_text(subject)

    # The attachment downloads through the API's permission check, byte for byte.
    download_link = agent.get_by_test_id("attachment-download").first
    with agent.expect_download() as download:
        download_link.click()
    assert download.value.suggested_filename == "오류 로그.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(ATTACHMENT).digest()

    # The agent takes it and replies (r focuses the public reply box).
    with agent.expect_response(lambda r: r.request.method == "PATCH" and r.ok):
        agent.get_by_role("button", name="나에게 배정").click()
    expect(agent.get_by_test_id("ticket-assignee")).to_have_value(str(_user_id(system, AGENT)))
    agent.keyboard.press("r")
    expect(agent.get_by_test_id("composer-body")).to_be_focused()
    reply = f"용지함을 교체했습니다. 다시 인쇄해 보세요. ({uuid.uuid4().hex[:6]})"
    agent.keyboard.type(reply)
    agent.get_by_test_id("composer-submit").click()
    expect(agent.get_by_test_id("comment").filter(has_text=reply)).to_be_visible()
    screenshot(agent, "agent-ticket")

    # --- the requester sees the reply, and got it by mail --------------------------------
    requester.reload()
    expect(requester.get_by_test_id("comment").filter(has_text=reply)).to_be_visible()
    screenshot(requester, "requester-thread")
    mail = system.capture.find(
        lambda m: REQUESTER in str(m["To"]) and reply in _text_of(m), timeout=60
    )
    assert subject in str(mail["Subject"])

    # --- the requester answers; the assignee's unread count goes up ------------------------
    requester.get_by_test_id("composer-body").fill("고맙습니다. 이제 잘 됩니다!")
    requester.get_by_test_id("composer-submit").click()
    expect(requester.get_by_test_id("comment").filter(has_text="이제 잘 됩니다")).to_be_visible()

    agent.goto("/tickets")
    expect(agent.get_by_test_id("unread-count")).to_be_visible(timeout=20_000)
    agent.get_by_test_id("notification-bell").click()
    agent.get_by_role("button", name=re.compile(subject)).first.click()
    agent.wait_for_url(f"**/tickets/{ticket_id}")
    expect(agent.get_by_test_id("comment").filter(has_text="이제 잘 됩니다")).to_be_visible()


def _user_id(system, email: str) -> int:
    with system.api(email) as api:
        return api.get("/auth/me").json()["id"]


def _text_of(message) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""
