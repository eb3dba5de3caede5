"""Korean by default, English on request, remembered per browser (cookie) and per user (API)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import AGENT, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_page_is_korean_by_default_and_switches_to_english(new_page) -> None:
    page = new_page()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", name="로그인")).to_be_visible()
    expect(page.get_by_label("비밀번호")).to_be_visible()
    screenshot(page, "login-ko")

    page.get_by_test_id("locale-switcher").select_option("en")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The choice survives a reload: the server renders the next page in English.
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "login-en")


def test_language_is_remembered_per_user(new_page, system) -> None:
    page = new_page()
    sign_in(page, AGENT)
    page.wait_for_url("**/tickets**")
    expect(page.get_by_role("link", name="티켓 큐")).to_be_visible()

    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/auth/me") and r.request.method == "PATCH"
    ) as patched:
        page.get_by_test_id("locale-switcher").select_option("en")
    assert patched.value.ok
    expect(page.get_by_role("link", name="Queue")).to_be_visible()

    # Another browser with no cookie: Korean until the agent signs in, then English.
    other = new_page()
    other.goto("/login")
    expect(other.get_by_role("heading", name="로그인")).to_be_visible()
    sign_in(other, AGENT)
    expect(other.get_by_role("link", name="Queue")).to_be_visible()
    screenshot(other, "queue-en")

    with system.api(AGENT) as api:
        assert api.get("/auth/me").json()["locale"] == "en"
        api.patch("/auth/me", json={"locale": "ko"}).raise_for_status()
