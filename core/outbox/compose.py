"""Turn an outbox row into the bytes an SMTP relay receives (RFC 5322 / RFC 2045-2049).

The message is 7-bit clean (base64 bodies, RFC 2047 encoded words in headers), because an
institution's internal relay may not offer 8BITMIME. Keys of the row's `headers` that start
with "_" are private notes, never emitted.

`message_bytes` writes the common case (text and HTML, no attachments) directly: the stdlib's
email package spends about 3.7 ms of CPU per message here (header policy objects, folding), which
alone would cap one sender at a few hundred mails a second. Messages with attachments go through
the stdlib (`build_message`). A test parses both outputs back and compares them.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, parseaddr
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


# --- the direct writer ------------------------------------------------------------------------

ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})
ID_HEADERS = frozenset({"message-id", "in-reply-to", "references"})
_WORD_BYTES = 45  # 45 UTF-8 bytes -> 60 base64 chars: an encoded word stays within 75 (RFC 2047)
_LINE = 78
_NEWLINES = re.compile(r"[\r\n]+")


def _encoded_words(value: str) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode())
        if current and size + width > _WORD_BYTES:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        chunks.append("".join(current))
    return [f"=?utf-8?b?{base64.b64encode(c.encode()).decode('ascii')}?=" for c in chunks]


def _fold(name: str, tokens: list[str]) -> str:
    """`Name: token token ...`, folded between tokens to keep lines within 78 characters."""
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > _LINE and line != f"{name}:":
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
    lines.append(line)
    return "\r\n".join(lines)


_SIMPLE_MAILBOX = re.compile(
    r'^(?:"((?:[^"\\]|\\.)*)"|([^"<>()\[\],;:\\@]*?))\s*<([^<>\s]+@[^<>\s]+)>$'
)


def _mailbox(value: str) -> tuple[str, str]:
    """(display name, address); the common `Name <a@b>` / `"Name" <a@b>` forms without the
    full RFC 5322 parser, anything else through it."""
    value = value.strip()
    if "<" not in value and " " not in value and value.count("@") == 1 and '"' not in value:
        return "", value  # a bare address
    match = _SIMPLE_MAILBOX.match(value)
    if match is None:
        return parseaddr(value)
    quoted, plain, address = match.groups()
    if quoted is not None:
        return re.sub(r"\\(.)", r"\1", quoted), address
    return (plain or "").strip(), address


def _header(name: str, value: str) -> str:
    value = _NEWLINES.sub(" ", str(value))  # no CR/LF from anywhere reaches the header block
    key = name.lower()
    if key in ID_HEADERS:
        return _fold(name, value.split())
    if key in ADDRESS_HEADERS:
        display, address = _mailbox(value)
        if not address.isascii():
            raise ValueError(f"non-ASCII address in {name}: {address!r}")
        if "=?" in display:  # already RFC 2047-encoded (formataddr does that): decode first
            display = str(make_header(decode_header(display)))
        if not display:
            return _fold(name, [address if key == "from" else f"<{address}>"])
        if display.isascii():
            return _fold(name, [formataddr((display, address))])
        return _fold(name, [*_encoded_words(display), f"<{address}>"])
    if value.isascii():
        return _fold(name, value.split(" "))
    return _fold(name, _encoded_words(value))


def _base64_body(text: str) -> str:
    # Text is encoded in its canonical form: CRLF line breaks (RFC 2046 4.1.1) and a final one,
    # exactly as the stdlib's content manager does.
    canonical = b"".join(line + b"\r\n" for line in text.encode().splitlines()) or b"\r\n"
    return base64.encodebytes(canonical).decode("ascii").replace("\n", "\r\n")


def _text_part(subtype: str, text: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _base64_body(text)
    )


def message_bytes(
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
) -> bytes:
    """The message as the relay receives it (CRLF line ends, 7-bit)."""
    if attachments:
        return as_bytes(
            build_message(
                from_address=from_address,
                to=to,
                subject=subject,
                message_id=message_id,
                date=date,
                reply_to=reply_to,
                headers=headers,
                text=text,
                html=html,
                attachments=attachments,
                extra_text=extra_text,
                extra_html=extra_html,
            )
        )
    if extra_text:
        text = text.rstrip("\n") + "\n\n" + extra_text
    if html and extra_html:
        cut = html.rfind("</body>")
        html = html[:cut] + extra_html + html[cut:] if cut >= 0 else html + extra_html
    lines = [
        _header("From", from_address),
        _header("To", to),
        _header("Subject", subject),
        _header("Date", format_datetime(date)),
        _header("Message-ID", message_id),
    ]
    if reply_to:
        lines.append(_header("Reply-To", reply_to))
    emitted = {"from", "to", "subject", "date", "message-id", "reply-to"}
    for name, value in headers.items():
        if name.startswith(PRIVATE_PREFIX) or value in (None, "") or name.lower() in emitted:
            continue
        lines.append(_header(name, str(value)[:MAX_HEADER_VALUE]))
    lines.append("MIME-Version: 1.0")
    if html:
        boundary = f"=_sd_{secrets.token_hex(12)}"
        lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        head = "\r\n".join(lines) + "\r\n\r\n"
        body = (
            f"--{boundary}\r\n{_text_part('plain', text)}"
            f"--{boundary}\r\n{_text_part('html', html)}"
            f"--{boundary}--\r\n"
        )
    else:
        head = "\r\n".join(lines) + "\r\n"
        body = _text_part("plain", text)
    return (head + body).encode("ascii")
