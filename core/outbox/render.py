"""Render a notification from its Jinja2 templates, in the recipient's language.

Each kind has `templates/<locale>/<kind>.txt.j2` (which also sets `subject`) and `<kind>.html.j2`.
Both parts start with the reply marker in both languages, so whichever language the recipient's
mail client shows, the line is recognisable; the gateway cuts the quoted history there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from core.models import Locale

REPLY_MARKER_KO = "## 이 줄 위에 답장을 작성해 주세요 ##"
REPLY_MARKER_EN = "## Please reply above this line ##"
REPLY_MARKER = f"{REPLY_MARKER_KO} / {REPLY_MARKER_EN}"

KINDS = (
    "acknowledgement",
    "agent_reply",
    "requester_reply",
    "assigned",
    "resolved",
    "magic_link",
    "sla",
)
DISPLAY_TIMEZONE = ZoneInfo("Asia/Seoul")
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")

LABELS: dict[str, dict[str, Any]] = {
    "ko": {
        "attachments": "첨부 파일",
        "attached": "이 메일에 첨부",
        "priority": {"low": "낮음", "normal": "보통", "high": "높음", "urgent": "긴급"},
        "sla": {
            "first_response_reminder": "첫 응답 기한 임박",
            "first_response_breach": "첫 응답 기한 초과",
            "resolution_reminder": "해결 기한 임박",
            "resolution_breach": "해결 기한 초과",
        },
        "date": "%Y-%m-%d %H:%M (KST)",
    },
    "en": {
        "attachments": "Attachments",
        "attached": "attached to this mail",
        "priority": {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"},
        "sla": {
            "first_response_reminder": "First response due soon",
            "first_response_breach": "First response overdue",
            "resolution_reminder": "Resolution due soon",
            "resolution_breach": "Resolution overdue",
        },
        "date": "%Y-%m-%d %H:%M (KST)",
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _paragraphs(text: str) -> Markup:
    """Plain text as HTML: escaped, blank lines become paragraphs, newlines line breaks."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return Markup("").join(
        Markup("<p>") + Markup("<br>\n").join(escape(line) for line in b.split("\n")) + "</p>\n"
        for b in blocks
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("core.outbox", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
        # The templates ship with the code: no stat() of the file for every mail rendered.
        auto_reload=False,
    )
    env.filters["paragraphs"] = _paragraphs
    return env


def normalise_locale(locale: str | None) -> str:
    return locale if locale in (Locale.ko.value, Locale.en.value) else Locale.ko.value


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def date_label(moment: datetime, locale: str) -> str:
    return moment.astimezone(DISPLAY_TIMEZONE).strftime(LABELS[normalise_locale(locale)]["date"])


def labels(locale: str) -> dict[str, Any]:
    return LABELS[normalise_locale(locale)]


def render(kind: str, locale: str, context: dict[str, Any]) -> Rendered:
    """Subject, text and HTML of one notification; every variable must be given (StrictUndefined
    turns a missing one into an error here, not a blank in someone's inbox)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    locale = normalise_locale(locale)
    env = environment()
    values = {
        "ticket": None,
        "comment": None,
        "marker": REPLY_MARKER,
        "locale": locale,
        "labels": LABELS[locale],
        **context,
    }
    text_module = env.get_template(f"{locale}/{kind}.txt.j2").make_module(values)
    subject = " ".join(str(text_module.subject).split())
    text = _BLANK_RUNS.sub("\n\n", str(text_module)).strip() + "\n"
    html = env.get_template(f"{locale}/{kind}.html.j2").render({**values, "subject": subject})
    return Rendered(subject=subject, text=text, html=html)


def render_attachments(
    locale: str, *, attached: list[dict[str, Any]], linked: list[dict[str, Any]]
) -> tuple[str, str]:
    """The attachment list the sender adds to a comment's mail (text, HTML)."""
    env = environment()
    values = {"labels": LABELS[normalise_locale(locale)], "attached": attached, "linked": linked}
    text = env.get_template("_attachments.txt.j2").render(values)
    html = env.get_template("_attachments.html.j2").render(values)
    return text, html
