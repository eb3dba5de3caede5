"""Turn an outbox row into the bytes an SMTP relay receives (RFC 5322 / RFC 2045-2049).

The message is 7-bit clean (base64 or quoted-printable bodies, RFC 2047 headers), because an
institution's internal relay may not offer 8BITMIME. Headers that are not standard message fields
(the attachment list) live in the row's `headers` under keys starting with "_" and are never
emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

SMTP_7BIT = policy.SMTP.clone(cte_type="7bit")
PRIVATE_PREFIX = "_"
MAX_HEADER_VALUE = 4000  # References is capped before this; a guard against surprises


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


def build_message(
    *,
    from_address: str,
    to: str,
    subject: str,
    message_id: str,
    date: datetime,
    reply_to: str | None,
    headers: dict[str, Any],
    text: str,
    html: str | None,
    attachments: list[MailAttachment] | tuple[MailAttachment, ...] = (),
) -> EmailMessage:
    message = EmailMessage(policy=SMTP_7BIT)
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if reply_to:
        message["Reply-To"] = reply_to
    for name, value in headers.items():
        if name.startswith(PRIVATE_PREFIX) or value in (None, ""):
            continue
        message[name] = str(value)[:MAX_HEADER_VALUE]
    message.set_content(text, subtype="plain", charset="utf-8")
    if html:
        message.add_alternative(html, subtype="html", charset="utf-8")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not subtype or maintype == "multipart" or maintype == "message":
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype.split(";", 1)[0].strip(),
            filename=attachment.filename,
        )
    return message


def as_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP_7BIT)
