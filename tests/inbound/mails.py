"""Test mails."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

HELP = "help@test.ac.kr"


def make_mail(
    *,
    subject: str = "노트북 무선랜 문의",
    body: str = "무선랜이 자주 끊깁니다.\n",
    sender: str = "Hong <hong@univ.ac.kr>",
    to: str = HELP,
    message_id: str | None = None,
    headers: dict[str, Any] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message
