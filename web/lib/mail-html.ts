/**
 * Mail HTML is shown inside `<iframe sandbox="" srcdoc>`: an opaque origin with no scripts, forms,
 * popups or navigation, and a CSP that allows nothing but inline styles and data: images. The HTML
 * arrives already sanitised by the API (nh3); the frame is the second wall, so a sanitiser miss
 * still runs nothing. Parsing below uses DOMParser, whose documents are inert (no script runs, no
 * image loads).
 */

const QUOTE_SELECTORS = [
  "blockquote",
  ".gmail_quote",
  ".gmail_extra",
  "#divRplyFwdMsg",
  "#appendonsend",
  ".moz-cite-prefix",
  ".yahoo_quoted",
  "[class*='OutlookMessageHeader']",
];

export const FRAME_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'";

export function frameDocument(bodyHtml: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${FRAME_CSP}"><style>
html,body{margin:0;padding:0;font:14px/1.6 "Pretendard Variable",Pretendard,system-ui,-apple-system,"Apple SD Gothic Neo","Malgun Gothic",sans-serif;color:#0f172a;word-break:keep-all;overflow-wrap:anywhere}
img{max-width:100%;height:auto}table{max-width:100%}blockquote{margin:0 0 0 .5em;padding-left:.75em;border-left:3px solid #cbd5e1;color:#475569}
a{color:#2459c2}pre{white-space:pre-wrap}
</style></head><body>${bodyHtml}</body></html>`;
}

/** The HTML without the quoted history, and whether anything was cut. */
export function splitQuoted(html: string): { fresh: string; hadQuote: boolean } {
  if (typeof DOMParser === "undefined") return { fresh: html, hadQuote: false };
  const doc = new DOMParser().parseFromString(html, "text/html");
  let hadQuote = false;
  for (const selector of QUOTE_SELECTORS) {
    for (const node of Array.from(doc.body.querySelectorAll(selector))) {
      // Keep a quote nested in the new text only if removing it would leave nothing.
      node.remove();
      hadQuote = true;
    }
  }
  if (hadQuote && !doc.body.textContent?.trim() && !doc.body.querySelector("img")) {
    return { fresh: html, hadQuote: false };
  }
  return { fresh: doc.body.innerHTML, hadQuote };
}

/** Replaces `cid:` image references with the data: URLs of the matching inline attachments. */
export function inlineImages(html: string, byContentId: Map<string, string>): string {
  if (byContentId.size === 0 || typeof DOMParser === "undefined") return html;
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const img of Array.from(doc.querySelectorAll("img[src]"))) {
    const src = img.getAttribute("src") ?? "";
    const cid = src.toLowerCase().startsWith("cid:") ? src.slice(4).replace(/^<|>$/g, "") : null;
    const data = cid ? byContentId.get(cid) : undefined;
    if (data) img.setAttribute("src", data);
  }
  return doc.body.innerHTML;
}

/** A height for the frame, since a sandboxed frame cannot be measured from outside. */
export function estimateHeight(html: string, text: string): number {
  const lines = Math.max(text.split("\n").length, Math.ceil(text.length / 90));
  const images = (html.match(/<img/gi) ?? []).length;
  const tables = (html.match(/<tr/gi) ?? []).length;
  return Math.min(900, Math.max(64, lines * 23 + images * 160 + tables * 8 + 24));
}
