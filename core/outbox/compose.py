"""Turn an outbox row into the bytes an SMTP relay receives (RFC 5322 / RFC 2045-2049).

The message is 7-bit clean (base64 or quoted-printable bodies, RFC 2047 headers), because an
institution's internal relay may not offer 8BITMIME. Keys of the row's `headers` that start
with "_" are private notes, never emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
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
    extra_text: str | None = None,
    extra_html: str | None = None,
) -> EmailMessage:
    """`extra_text`/`extra_html` (the attachment list) are added at the end of the body."""
    if extra_text:
        text = text.rstrip("\n") + "\n\n" + extra_text
    if html and extra_html:
        cut = html.rfind("</body>")
        html = html[:cut] + extra_html + html[cut:] if cut >= 0 else html + extra_html
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
        maintype, subtype, params = _attachment_type(attachment)
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=params,
        )
    return message


def _attachment_type(attachment: MailAttachment) -> tuple[str, str, dict[str, str]]:
    """Type and parameters for an attachment part. A text file without a declared charset gets
    utf-8 when it is valid UTF-8, since clients read an undeclared one as US-ASCII."""
    header = Message()
    header["Content-Type"] = attachment.content_type or "application/octet-stream"
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    if maintype in ("multipart", "message") or not subtype:
        return "application", "octet-stream", {}
    params: dict[str, str] = {}
    if maintype == "text":
        charset = header.get_param("charset")
        if isinstance(charset, str) and charset:
            params["charset"] = charset
        else:
            try:
                attachment.data.decode("utf-8")
                params["charset"] = "utf-8"
            except UnicodeDecodeError:
                pass
    return maintype, subtype, params


def as_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP_7BIT)
