"""A stored-XSS corpus and a Chromium that tells whether any of it ran.

Every vector carries its own id. Its script, if a browser ever runs it, reports that id three
ways: `console.log("XSS-FIRED-<id>")`, `alert("<id>")` and a push onto `top.__xss`; the
watcher counts ids from console messages (every frame), dialogs and `top.__xss`. Nothing is
asserted about how a vector is neutralised (stripped, escaped, sandboxed): only that it never runs.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never `playwright install`).
"""

from __future__ import annotations

import base64
import contextlib
import html
import os
import re
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
FIRED = re.compile(r"XSS-FIRED-([A-Za-z0-9_-]+)")

# {js}: the reporting script; {js_attr}: the same, HTML-escaped for an attribute value;
# {b64html}: base64 of a whole HTML document that runs it; {b64js}: base64 of the script.
HTML_VECTORS: list[str] = [
    "<script>{js}</script>",
    '<img src=x onerror="{js_attr}">',
    '<svg onload="{js_attr}"></svg>',
    "<svg><script>{js}</script></svg>",
    '<body onload="{js_attr}">',
    '<iframe srcdoc="<script>{js_attr}</script>"></iframe>',
    '<iframe src="javascript:{js_attr}"></iframe>',
    '<a href="javascript:{js_attr}">click</a>',
    '<a href="jav&#x09;ascript:{js_attr}">tab</a>',
    '<a href="&#106;&#97;vascript:{js_attr}">entities</a>',
    '<math><mtext><table><mglyph><style><img src=x onerror="{js_attr}">',
    '<noscript><p title="</noscript><img src=x onerror={js_attr}>">',
    '<form><button formaction="javascript:{js_attr}">go</button></form>',
    '<object data="javascript:{js_attr}"></object>',
    '<embed src="javascript:{js_attr}">',
    '<meta http-equiv="refresh" content="0;url=javascript:{js_attr}">',
    '<base href="javascript:{js_attr}//"><a href="x">base</a>',
    '<details open ontoggle="{js_attr}"><summary>x</summary></details>',
    '<video><source onerror="{js_attr}"></video>',
    '<audio src=x onerror="{js_attr}"></audio>',
    '<input autofocus onfocus="{js_attr}">',
    '<marquee onstart="{js_attr}">m</marquee>',
    '<div style="background-image:url(javascript:{js_attr})">bg</div>',
    "<style>@import 'javascript:{js_attr}';</style>",
    '<link rel=stylesheet href="javascript:{js_attr}">',
    '<table background="javascript:{js_attr}"><tr><td>t</td></tr></table>',
    "<scr<script>ipt>{js}</scr</script>ipt>",
    "<<script>script>{js}<</script>/script>",
    '<img """><script>{js}</script>">',
    "<template><script>{js}</script></template>",
    "<xmp><script>{js}</script></xmp>",
    '<svg><animate onbegin="{js_attr}" attributeName=x dur=1s></animate></svg>',
    '<svg><a xlink:href="javascript:{js_attr}"><text x=20 y=20>svg link</text></a></svg>',
    '<iframe src="data:text/html;base64,{b64html}"></iframe>',
    '<a href="data:text/html;base64,{b64html}">data link</a>',
    "<img src=x onerror=eval(atob('{b64js}'))>",
    '<div onmouseover="{js_attr}">hover me</div>',
    '<!--<img src="--><img src=x onerror="{js_attr}"//">',
    '<style><img src="</style><img src=x onerror="{js_attr}"//">',
    "<img src=\"cid:evil' onerror='{js_attr}\">",
    '<frameset onload="{js_attr}"></frameset>',
    '<select autofocus onfocus="{js_attr}"><option>s</option></select>',
    '<textarea autofocus onfocus="{js_attr}">t</textarea>',
    '<keygen autofocus onfocus="{js_attr}">',
    '<img src=1 srcset="x" onerror="{js_attr}">',
    '<svg><style>&lt;img src=x onerror="{js_attr}"&gt;</style></svg>',
    '<a href="  JaVaScRiPt:{js_attr}">mixed case</a>',
    '<img src=x onerror&#x3D;"{js_attr}">',
    '<p>정상 본문 <b>굵게</b> 그리고 <a href="https://portal.univ.ac.kr">링크</a></p>',
]
# Plain text where HTML is not expected (subjects, names, file names, text bodies).
TEXT_VECTORS: list[str] = [
    '"><script>{js}</script>',
    '<img src=x onerror="{js_attr}">',
    "'><svg onload='{js_attr}'>",
    "javascript:{js}",
    "{{{{constructor.constructor('{js_attr}')()}}}}",
    "</textarea><script>{js}</script>",
    "</title><script>{js}</script>",
    "${{alert(1)}}<!--",
]


def reporter(vector_id: str) -> str:
    return (
        f"console.log('XSS-FIRED-{vector_id}');"
        f"try{{(top.__xss=top.__xss||[]).push('{vector_id}')}}catch(e){{}};"
        f"alert('{vector_id}')"
    )


def render(template: str, vector_id: str) -> str:
    js = reporter(vector_id)
    document = f"<script>{js}</script>"
    return template.format(
        js=js,
        js_attr=html.escape(js, quote=True),
        b64html=base64.b64encode(document.encode()).decode(),
        b64js=base64.b64encode(js.encode()).decode(),
    )


@dataclass
class Vector:
    id: str
    template: str
    payload: str
    kind: str  # html | text


def corpus(prefix: str) -> list[Vector]:
    out = [
        Vector(f"{prefix}h{i}", t, render(t, f"{prefix}h{i}"), "html")
        for i, t in enumerate(HTML_VECTORS)
    ]
    out += [
        Vector(f"{prefix}t{i}", t, render(t, f"{prefix}t{i}"), "text")
        for i, t in enumerate(TEXT_VECTORS)
    ]
    return out


@dataclass
class Watcher:
    """What ran: ids seen in console messages, dialogs and `top.__xss`, per page visited."""

    fired: dict[str, set[str]] = field(default_factory=dict)  # id -> where
    dialogs: int = 0
    pages: int = 0
    errors: list[str] = field(default_factory=list)

    def saw(self, vector_id: str, where: str) -> None:
        self.fired.setdefault(vector_id, set()).add(where)

    def attach(self, page: Any, where: str) -> None:
        def on_console(message: Any) -> None:
            for match in FIRED.finditer(message.text):
                self.saw(match.group(1), where)

        async def on_dialog(dialog: Any) -> None:
            self.dialogs += 1
            self.saw(dialog.message or "?", where)
            await dialog.dismiss()

        page.on("console", on_console)
        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.errors.append(f"{where}: {error}"[:300]))

    async def settle(self, page: Any, where: str) -> None:
        """Give autofocus/onload/animations a moment, hover and focus what could fire, then
        read `top.__xss`."""
        self.pages += 1
        await page.wait_for_timeout(400)
        for frame in page.frames:
            # A frame that is gone or refuses evaluation has nothing to hover.
            with contextlib.suppress(Exception):
                await frame.evaluate(
                    "() => { for (const el of document.querySelectorAll('*')) {"
                    " for (const type of ['mouseover', 'focus']) {"
                    " el.dispatchEvent(new Event(type)); } } }"
                )
        await page.wait_for_timeout(200)
        try:
            for vector_id in await page.evaluate("() => window.__xss || []"):
                self.saw(str(vector_id), where)
        except Exception as exc:
            self.errors.append(f"{where}: cannot read window.__xss: {exc}"[:300])

    @property
    def executed(self) -> int:
        return len(self.fired)


@asynccontextmanager
async def chromium() -> Iterator[Any]:  # type: ignore[misc]
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def render_fragments(
    browser: Any, fragments: dict[str, str], watcher: Watcher, *, per_page: int = 1
) -> None:
    """Fragments as the body of a page, with no sandbox and no CSP: stored HTML has to be
    harmless by itself. `per_page` > 1 puts several (well-formed, e.g. sanitised) fragments in
    one page, each in its own <section>; raw vectors need a page each (an unclosed tag in one
    would swallow the next)."""
    context = await browser.new_context(java_script_enabled=True)
    items = list(fragments.items())
    try:
        for start in range(0, len(items), per_page):
            group = items[start : start + per_page]
            name = group[0][0] if len(group) == 1 else f"{group[0][0]} .. {group[-1][0]}"
            body = "".join(f"<section>{fragment}</section>" for _, fragment in group)
            page = await context.new_page()
            watcher.attach(page, name)
            await page.set_content(
                f"<!doctype html><html><head><meta charset=utf-8></head><body>{body}</body></html>",
                wait_until="load",
            )
            await watcher.settle(page, name)
            await page.close()
    finally:
        await context.close()
