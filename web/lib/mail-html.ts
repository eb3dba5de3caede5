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
html,body{margin:0;padding:0;font:14px/1.6 "Pretendard Variable",Pretendard,system-ui,-apple-system,"Apple SD Gothic Neo","Malgun Gothic","Noto Sans KR","NanumGothic",sans-serif;color:#0f172a;word-break:keep-all;overflow-wrap:anywhere}
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

/**
 * Points inline images at data: URLs. `images` maps what a mail's <img src> may say to the image:
 * `cid:<content-id>` as sent, or the attachment's API path when the API already rewrote it. The
 * frame cannot fetch anything itself (opaque origin, no cookies, CSP img-src data:).
 */
export function inlineImages(html: string, images: Map<string, string>): string {
  if (images.size === 0 || typeof DOMParser === "undefined") return html;
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const img of Array.from(doc.querySelectorAll("img[src]"))) {
    const src = (img.getAttribute("src") ?? "").trim();
    const key = src.toLowerCase().startsWith("cid:")
      ? `cid:${src.slice(4).replace(/^<|>$/g, "")}`
      : src.replace(/^https?:\/\/[^/]+/, "").split("?")[0];
    const data = images.get(key);
    if (data) img.setAttribute("src", data);
  }
  return doc.body.innerHTML;
}

/** The attachments a mail's HTML shows as images (by Content-ID or by the API's own path). */
export function referencedImages<T extends { content_id: string | null; download_url: string; content_type: string }>(
  html: string,
  attachments: T[],
): T[] {
  return attachments.filter(
    (a) =>
      a.content_type.startsWith("image/") &&
      ((a.content_id && html.includes(a.content_id.replace(/^<|>$/g, ""))) || html.includes(a.download_url)),
  );
}

/**
 * A height for the frame, since a sandboxed frame cannot be measured from outside (no script runs
 * in it, and its origin is opaque): lines of text at ~80 characters, one per block, plus images.
 * The frame can be resized by hand when the guess is short.
 */
export function estimateHeight(html: string): number {
  if (typeof DOMParser === "undefined") return 200;
  const body = new DOMParser().parseFromString(html, "text/html").body;
  const text = (body.textContent ?? "").replace(/\s+/g, " ").trim();
  const blocks = body.querySelectorAll("p,div,br,li,tr,h1,h2,h3,h4,h5,h6,pre,blockquote").length;
  let images = 0;
  for (const img of Array.from(body.querySelectorAll("img"))) {
    const declared = Number(img.getAttribute("height"));
    images += declared > 0 ? Math.min(declared, 400) : 120;
  }
  const lines = Math.ceil(text.length / 80) + Math.ceil(blocks * 0.7);
  return Math.min(900, Math.max(48, lines * 22 + images + 16));
}
