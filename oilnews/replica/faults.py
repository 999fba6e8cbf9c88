"""Misbehaviour the replica can be told to show, path by path, for the reliability tests.

Each fault fires `times` times (None: always) and then the page is served normally, so a
test can tell "retried and stored" from "given up and recorded".
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oilnews.replica.server import ReplicaHandler

KINDS = frozenset(
    {
        "hostile_text",
        "oversized",
        "challenge_offsite",
        "500",
        "502",
        "503",
        "429",
        "retry_after",
        "reset",
        "timeout",
        "slow",
        "truncated",
        "empty",
        "redirect_loop",
        "redirect_offsite",
        "redirect_to",
        "query_variants",
        "huge",
        "malformed",
        "latin1_no_charset",
        "many_links",
        "hostile_body",
        "charset_mismatch",
    }
)
# The title a charset_mismatch page carries: non-ASCII that mojibake would show.
CURLY_TITLE_PREFIX = "OPEC\u2019s \u201cQuiet\u201d Caf\u00e9 Talks:"


@dataclass
class Fault:
    kind: str
    times: int | None = None
    seconds: float = 3.0  # timeout/slow: how long the server stalls
    target: str = ""  # redirect_offsite: the host to send to; redirect_to, query_variants: a path

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(sorted(KINDS))}")

    def fires(self) -> bool:
        if self.times is None:
            return True
        if self.times > 0:
            self.times -= 1
            return True
        return False


def serve_fault(handler: ReplicaHandler, fault: Fault, path: str, page: str) -> int:
    """Answer with the fault instead of the page (or a damaged page); returns the status."""
    kind = fault.kind
    if kind in ("500", "502", "503", "429", "retry_after"):
        status = 503 if kind == "retry_after" else int(kind)
        body = b"<html><body>temporarily unavailable</body></html>"
        handler.send_response(status)
        if kind in ("retry_after", "429"):
            handler.send_header("Retry-After", "1")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return status
    if kind == "reset":
        # SO_LINGER 0: closing sends RST instead of FIN, a "connection reset by peer".
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.close_connection = True
        return 0
    if kind in ("timeout", "slow"):
        time.sleep(fault.seconds)
        return _send(handler, 200, page.encode("utf-8"))
    if kind == "truncated":
        data = page.encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 3])
        handler.close_connection = True
        return 200
    if kind == "empty":
        return _send(handler, 200, b"")
    if kind in ("redirect_loop", "redirect_offsite", "redirect_to"):
        location = {
            "redirect_loop": path,
            "redirect_offsite": fault.target + path,
            "redirect_to": fault.target,
        }
        handler.send_response(302)
        handler.send_header("Location", location[kind])
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return 302
    if kind == "huge":
        chunk = b"<p>" + b"x" * (1024 * 1024 - 7) + b"</p>\n"
        total = 50
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(chunk) * total))
        handler.end_headers()
        try:
            for _ in range(total):
                handler.wfile.write(chunk)
        except OSError:
            pass  # the client gave up, as it should
        handler.close_connection = True
        return 200
    if kind == "malformed":
        damaged = page.replace("</p>", "").replace("</div>", "", 40).replace("<ul>", "<ul><li><ul>")
        return _send(handler, 200, ("<html><<<>>>&&&" + damaged[: len(damaged) * 2 // 3]).encode("utf-8"))
    if kind == "latin1_no_charset":
        data = page.replace("\u2019", "\u00e9").encode("latin-1", "replace")
        return _send(handler, 200, data, "text/html")
    if kind == "charset_mismatch":
        # The header says Latin-1; the bytes and the page's own <meta charset> say UTF-8.
        title = _h1_text(page)
        damaged = page.replace(title, f"{CURLY_TITLE_PREFIX} {title}") if title else page
        return _send(handler, 200, damaged.encode("utf-8"), "text/html; charset=iso-8859-1")
    if kind == "query_variants":
        # 2,000 spellings of one article: the same path with a query string each.
        links = "".join(f'<a href="{fault.target}?v={n}">variant {n}</a> ' for n in range(2_000))
        return _send(
            handler,
            200,
            page.replace('<p class="speakable">', f'<p>{links}</p><p class="speakable">', 1).encode(),
        )
    if kind == "hostile_text":
        # A title that would run in a spreadsheet and drive a terminal, an author that would be
        # matplotlib mathtext: stored as the page says, made harmless where it is shown.
        title = _h1_text(page)
        damaged = page.replace(title, HOSTILE_TITLE_PREFIX + title) if title else page
        author = _byline_author(page)
        damaged = damaged.replace(author, HOSTILE_AUTHOR) if author else damaged
        return _send(handler, 200, damaged.encode("utf-8"))
    if kind == "challenge_offsite":
        # A JavaScript check whose script sends the browser to another host (fault.target), and
        # fetches from it: a rendered page must never go there, nor be stored as an article.
        script = (
            f'fetch("{fault.target}/beacon.js").catch(function () {{}});'
            f'document.cookie = "x=1"; location.href = "{fault.target}{path}";'
        )
        html = (
            "<!DOCTYPE html><html><head><title>Just a moment...</title>"
            f'<script src="{fault.target}/tracker.js"></script></head><body>'
            f"<p>Checking your browser before accessing the site.</p><script>{script}</script></body></html>"
        )
        return _send(handler, 200, html.encode("utf-8"))
    if kind == "oversized":
        # Page text past any column's old bound, and a link past the longest URL stored.
        author = _byline_author(page)
        damaged = page.replace(author, OVERSIZED_AUTHOR) if author else page
        link = f'<a href="/Energy/Coal/{"x" * 3000}.html">a very long link</a>'
        damaged = damaged.replace('<p class="speakable">', f'<p>{link}</p><p class="speakable">', 1)
        return _send(handler, 200, damaged.encode("utf-8"))
    if kind == "many_links":
        links = "".join(f'<a href="/Energy/Coal/Link-{n}.html">link {n}</a> ' for n in range(10_000))
        return _send(
            handler,
            200,
            page.replace("</body></html>\n<br/>", f"<p>{links}</p></body></html>\n<br/>", 1).encode(),
        )
    # hostile_body: script, style, iframe, object inside the article text
    hostile = (
        '<script>document.write("INJECTED SCRIPT")</script><style>p{color:red} /* INJECTED STYLE */</style>'
        '<iframe src="https://evil.example/">INJECTED FRAME</iframe><noscript>INJECTED NOSCRIPT</noscript>'
    )
    return _send(
        handler, 200, page.replace('<p class="speakable">', hostile + '<p class="speakable">', 1).encode()
    )


HOSTILE_TITLE_PREFIX = '=HYPERLINK("http://evil.example/","x") \x1b]0;pwned\x07\x1b[2J\u009b31m '
HOSTILE_AUTHOR = "Oil $\\notacommand$ Desk"
OVERSIZED_AUTHOR = "The Energy Desk of a Very Long Name " * 9  # 324 characters


def _byline_author(page: str) -> str:
    import re

    found = re.search(r'class="authorBox__authorName">([^<]+)<', page)
    return found.group(1) if found else ""


def _h1_text(page: str) -> str:
    start = page.find("<h1")
    start = page.find(">", start) + 1 if start >= 0 else -1
    end = page.find("</h1>", start)
    return page[start:end] if start > 0 and end > start else ""


def _send(
    handler: ReplicaHandler, status: int, data: bytes, content_type: str = "text/html; charset=utf-8"
) -> int:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    return status
