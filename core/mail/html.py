"""HTML from mail, made safe to show, and plain text from HTML-only mail.

Sanitising is nh3 (the ammonia HTML5 sanitiser): an allow-list of formatting tags, no scripts,
styles, event handlers, iframes, forms or `javascript:` URLs. `cid:` references (inline images,
RFC 2392) are rewritten to our attachment download URLs; a `cid:` we did not store is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser

import nh3

ATTACHMENT_URL = "/api/v1/attachments/{id}"
# Content removed together with the tag (not just unwrapped): code and document metadata.
_DROP_CONTENT = {"script", "style", "title", "noscript", "template", "xml", "head"}
_TAGS = (set(nh3.ALLOWED_TAGS) | {"font"}) - _DROP_CONTENT
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES.setdefault("font", set()).update({"color", "size", "face"})
for _tag in ("td", "th", "table"):
    _ATTRIBUTES.setdefault(_tag, set()).update({"colspan", "rowspan", "align", "width"})
_URL_SCHEMES = set(nh3.ALLOWED_URL_SCHEMES) | {"cid"}


def _cid_key(value: str) -> str:
    return value.strip().strip("<>").lower()


def sanitise_html(html: str, *, inline_ids: Mapping[str, int] | None = None) -> str:
    """Sanitised HTML; `inline_ids` maps Content-IDs to the stored attachment ids."""
    mapping = {_cid_key(k): v for k, v in (inline_ids or {}).items()}

    def rewrite(_tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("src", "href") and value[:4].lower() == "cid:":
            attachment_id = mapping.get(_cid_key(value[4:]))
            return ATTACHMENT_URL.format(id=attachment_id) if attachment_id else None
        return value

    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags=_DROP_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=rewrite,
        url_schemes=_URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    ).strip()


_BLOCK = {
    "p",
    "div",
    "br",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "hr",
}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            self._skip += 1
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Readable text for HTML-only mail (search, notifications, quote folding)."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is forgiving, but hostile input must not stop the pipeline
        return ""
    lines = [
        " ".join(line.replace("\xa0", " ").split()) for line in "".join(parser.out).split("\n")
    ]
    text, blank = [], 0
    for line in lines:
        blank = blank + 1 if not line else 0
        if blank <= 1:
            text.append(line)
    return "\n".join(text).strip()
