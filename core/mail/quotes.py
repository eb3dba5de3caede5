"""Where the quoted history starts in a reply, so the portal can fold it.

Nothing is cut: the full text is stored and `comments.quote_start` marks the offset. Reply-parsing
libraries are English-only or stale, so the reply headers of the clients used in Korea are matched
here: Outlook ("-----Original Message-----", "-----원본 메시지-----", a "보낸 사람:"/"From:" block
followed by "보낸 날짜:"/"Sent:"), Gmail ("On ... wrote:", "2024년 1월 2일 (화) 오전 10:00, 홍길동
<a@b>님이 작성:"), Naver/Daum ("...님이 작성한 글", "------- Original Message -------"), and a
trailing block of "> " lines.
"""

from __future__ import annotations

import re

_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|원본 메시지|원본 메일|원래 메시지|forwarded message|"
    r"전달된 메시지|전달 메시지)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(r"^.{0,300}(wrote|a écrit|schrieb)\s*:\s*$", re.IGNORECASE)
_ON_WROTE_START = re.compile(r"^\s*(on|am|le)\s.{4,}", re.IGNORECASE)
_KOREAN_WROTE = re.compile(r"^.{0,300}님이\s*(작성|작성한\s*글|쓰신\s*글|보낸\s*메일)\s*:?\s*$")
_HEADER_FROM = re.compile(r"^\s*\**(보낸\s*사람|from|발신자|보낸이)\s*\**\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\**(보낸\s*날짜|날짜|sent|date|받는\s*사람|to|수신자|제목|subject)\s*\**\s*:",
    re.IGNORECASE,
)


def find_quote_start(text: str) -> int | None:
    """Offset in `text` where quoted history begins, or None when there is none (or when the
    whole mail would fold away: a bare forward keeps its content visible)."""
    lines = text.split("\n")
    offsets, position = [], 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if (
            _SEPARATOR.match(stripped)
            or _KOREAN_WROTE.match(stripped)
            or (_WROTE.match(stripped) and (_ON_WROTE_START.match(stripped) or "@" in stripped))
            or _two_line_wrote(lines, index)
            or _header_block(lines, index)
            or _quote_block(lines, index)
        ):
            return _visible_or_none(text, offsets[index])
    return None


def _two_line_wrote(lines: list[str], index: int) -> bool:
    """Gmail wraps long attributions: "On Mon, 1 Jan 2024 at 10:00, Name <a@b" / "> wrote:"."""
    if index + 1 >= len(lines) or not _ON_WROTE_START.match(lines[index].strip()):
        return False
    joined = lines[index].strip() + " " + lines[index + 1].strip()
    return bool(_WROTE.match(joined) or _KOREAN_WROTE.match(joined))


def _header_block(lines: list[str], index: int) -> bool:
    if not _HEADER_FROM.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 5] if line.strip()]
    return any(_HEADER_NEXT.match(line) for line in following[:3])


def _quote_block(lines: list[str], index: int) -> bool:
    """A run of "> " lines that, ignoring blanks and a short signature, runs to the end."""
    if not lines[index].lstrip().startswith(">"):
        return False
    rest = [line for line in lines[index:] if line.strip()]
    quoted = sum(1 for line in rest if line.lstrip().startswith(">"))
    return quoted >= max(1, int(len(rest) * 0.8))


def _visible_or_none(text: str, offset: int) -> int | None:
    return offset if text[:offset].strip() else None
