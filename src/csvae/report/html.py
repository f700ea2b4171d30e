"""The report's own Markdown (headings, paragraphs, lists, pipe tables, images) as one HTML page."""

from __future__ import annotations

import html
import re

CSP = ("default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")
"""The page's Content-Security-Policy: no script, no frame, no form; images from its own folder."""
LINK_SCHEMES = ("http", "https", "mailto")
"""URL schemes a link may have (besides none: a path relative to the report)."""


def safe_url(escaped: str, schemes: tuple[str, ...]) -> bool:
    """Whether an (HTML-escaped) URL is relative or has one of ``schemes``, read as a browser
    reads it (entities decoded, whitespace and control characters dropped: ``java\tscript:``)."""
    url = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(escaped))
    scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return scheme is None or scheme.group(1).lower() in schemes


def _image(match: re.Match) -> str:
    alt, url = match.groups()
    return f'<img alt="{alt}" src="{url}">' if safe_url(url, ()) else alt


def _link(match: re.Match) -> str:
    text, url = match.groups()
    return f'<a href="{url}">{text}</a>' if safe_url(url, LINK_SCHEMES) else text


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", _image, text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", _link, text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def markdown_to_html(text: str, title: str) -> str:
    """The report's own Markdown (headings, paragraphs, lists, pipe tables, images) as one HTML page."""
    body, rows, items = [], [], []

    def flush():
        if rows:
            head, *rest = rows
            body.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>" +
                        "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rest) +
                        "</table>")
            rows.clear()
        if items:
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                rows.append(cells)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        heading = re.match(r"(#+) (.*)", line)
        if heading:
            level = len(heading.group(1))
            body.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
