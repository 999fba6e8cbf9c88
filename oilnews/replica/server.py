"""The replica's HTTP server: loopback only, deterministic, any size.

Runs in a thread for tests (`ReplicaServer(...).start()`) or in the foreground from
`oilnews replica serve`. Every request is counted by path (`hits`) and optionally written
to an access log, so tests can prove what a crawl downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oilnews.dates import parse_http_date
from oilnews.replica import pages
from oilnews.replica.content import Catalogue
from oilnews.replica.faults import Fault, serve_fault
from oilnews.site import CHART_PATH, LISTING_PAGE_RE, RSS_PATH

_SITEMAP = re.compile(r"^/sitemap_articles_(\d{4})_(\d{1,2})\.xml$")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
CHALLENGE_COOKIE = "oilnews_challenge=passed"


@dataclass
class ReplicaState:
    catalogue: Catalogue
    hits: Counter[str] = field(default_factory=Counter)
    access_log: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    broken_articles: bool = False  # serve article pages with the body container missing
    faults: dict[str, Fault] = field(default_factory=dict)  # path -> misbehaviour (tests)
    robots_txt: str = pages.ROBOTS_TXT
    deleted: set[str] = field(default_factory=set)  # article paths answered 404 (still linked)
    # Hostile sites (tests): a pagination that never ends ("endless": every Page-N lists page
    # 1's articles; "repeat_last": past the end, the last page again and again; "loop": the
    # last page's next link goes back to Page-1.html).
    pagination: str = ""
    claimed_canonical: dict[str, str] = field(default_factory=dict)  # path -> URL its page claims
    churning: set[str] = field(default_factory=set)  # article paths whose text changes every fetch
    sitemap_index_size: int = 0  # > 0: each monthly sitemap is an index naming this many sitemaps
    robots_status: int = 200
    fetches: Counter[str] = field(default_factory=Counter)  # per path, for churning pages
    # ETag / Last-Modified on feeds, listings and sitemaps, and 304 to a request that names
    # them, as a well-run news site (and its CDN) does. False: no validators at all.
    validators: bool = True

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.hits[path] += 1
            if self.access_log is not None:
                with self.access_log.open("a", encoding="utf-8") as log:
                    log.write(f"{method} {path} {status}\n")


class ReplicaHandler(BaseHTTPRequestHandler):
    server: ReplicaHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the access log and hit counter are the record

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        status, content_type, body = self.route(path)
        fault = self.server.state.faults.get(path)
        if fault is not None and fault.fires():
            self.server.state.record("GET", path, serve_fault(self, fault, path, body))
            return
        data = body.encode("utf-8")
        validators = self._validators(path, data) if status == 200 else None
        if validators is not None and self._not_modified(*validators):
            self.server.state.record("GET", path, 304)
            self.send_response(304)
            self.send_header("ETag", validators[0])
            self.send_header("Last-Modified", validators[1])
            self.end_headers()
            return
        self.server.state.record("GET", path, status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if validators is not None:
            self.send_header("ETag", validators[0])
            self.send_header("Last-Modified", validators[1])
        self.end_headers()
        self.wfile.write(data)

    def _validators(self, path: str, data: bytes) -> tuple[str, str] | None:
        """(ETag, Last-Modified) of a feed, listing or sitemap; None for other pages."""
        state = self.server.state
        if not state.validators or not (
            path == RSS_PATH or _SITEMAP.match(path) or self._listing(path) is not None
        ):
            return None
        cat = state.catalogue
        changed = max(cat.published(max(0, cat.size - 1)), cat.edited_at if cat.edited else cat.epoch)
        if path != RSS_PATH and not path.endswith(".xml"):
            # the ticker in a listing's header moves every hour
            changed = max(changed, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        return etag, format_datetime(changed.replace(microsecond=0), usegmt=True)

    def _not_modified(self, etag: str, last_modified: str) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:  # RFC 9110 13.1.3: If-None-Match wins over If-Modified-Since
            return etag in [tag.strip() for tag in match.split(",")] or match.strip() == "*"
        since = parse_http_date(self.headers.get("If-Modified-Since"))
        changed = parse_http_date(last_modified)
        return since is not None and changed is not None and changed <= since

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        if path == pages.CHART_DATA_PATH and form.get("blend_id", [""])[0].isdigit():
            status, body = 200, pages.chart_data(self.server.state.catalogue, int(form["blend_id"][0]))
        else:
            status, body = 404, '{"status": "not found"}'
        self.server.state.record("POST", path, status)
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, path: str) -> tuple[int, str, str]:
        state = self.server.state
        cat = state.catalogue
        base = self.server.base_url
        now = datetime.now(UTC)
        html = "text/html; charset=utf-8"
        if path == "/robots.txt":
            return state.robots_status, "text/plain; charset=utf-8", state.robots_txt
        if path == "/":
            return 200, html, pages.render_home(cat, base, now)
        if path == RSS_PATH:
            return 200, "application/rss+xml; charset=utf-8", pages.render_rss(cat, base)
        if path.startswith("/sitemap_extra_"):
            return 200, "application/xml", pages.render_sitemap_index([])
        sitemap = _SITEMAP.match(path)
        if sitemap and state.sitemap_index_size:
            nested = [
                f"{base}/sitemap_extra_{sitemap.group(1)}_{n}.xml" for n in range(state.sitemap_index_size)
            ]
            return 200, "application/xml", pages.render_sitemap_index(nested)
        if sitemap:
            xml = pages.render_sitemap(cat, base, int(sitemap.group(1)), int(sitemap.group(2)))
            return (200, "application/xml", xml) if xml else (404, html, "not found")
        listing = self._listing(path)
        if listing is not None:
            section, page = listing
            text = self._hostile_listing(section, page) if state.pagination else None
            text = text or pages.render_listing(cat, section, page, base, now)
            return (200, html, text) if text else (404, html, "not found")
        lookup_path = path[: -len(".amp.html")] + ".html" if path.endswith(".amp.html") else path
        if path == CHART_PATH:
            return 200, html, pages.render_chart_page(cat, base, now)
        article = cat.lookup(lookup_path)
        if article is None or path in state.deleted:
            return 404, html, "<html><body><h1>Page not found</h1></body></html>"
        if cat.challenged(article.index) and CHALLENGE_COOKIE not in (self.headers.get("Cookie") or ""):
            return 403, html, pages.CHALLENGE_HTML
        # The AMP copy names the plain page canonical; a twin URL names itself.
        canonical_path = lookup_path
        claimed = state.claimed_canonical.get(path)
        document = pages.render_article(cat, article, base, now, path=canonical_path, claimed_url=claimed)
        if path in state.churning:
            with state.lock:
                state.fetches[path] += 1
                count = state.fetches[path]
            document = document.replace(
                '<p class="speakable">',
                f'<p>Readers online right now: {count * 37 + 1}.</p><p class="speakable">',
                1,
            )
        if state.broken_articles:
            document = re.sub(r'"articleBody": "[^"]*", ', "", document)
            document = re.sub(
                r'<div id="(news|article)-content".*?<p><a class="join-discussion"',
                '<p><a class="join-discussion"',
                document,
                flags=re.S,
            )
        return 200, html, document

    def _hostile_listing(self, section: str, page: int) -> str | None:
        """A listing page of the hostile pagination modes (see ReplicaState.pagination)."""
        state, base, now = self.server.state, self.server.base_url, datetime.now(UTC)
        cat = state.catalogue
        last = pages.listing_page_count(cat, section)
        if state.pagination == "loop":
            text = pages.render_listing(cat, section, page, base, now)
            if text is None or page < last:
                return text
            return pages.with_next_link(text, base + f"/{section}/Page-1.html")
        shown = 1 if state.pagination == "endless" else min(page, last)
        text = pages.render_listing(cat, section, shown, base, now)
        return pages.with_next_link(text, base + f"/{section}/Page-{page + 1}.html") if text else None

    def _listing(self, path: str) -> tuple[str, int] | None:
        sections = self.server.state.catalogue.sections
        match = LISTING_PAGE_RE.search(path)
        section = path[: match.start()] if match else path.rstrip("/")
        section = section.strip("/")
        if section not in sections or (not match and not path.endswith("/")):
            return None
        return section, int(match.group(1)) if match else 1


class ReplicaHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when a crawler opens 32 connections at once; each
    # dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 1024
    allow_reuse_address = True

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close every open client connection: a stopped replica is a site that is down, not
        one still answering on the keep-alive connections of before."""
        with self._connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up (timeouts, size limits: the tests provoke it) is not news.
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], state: ReplicaState) -> None:
        if address[0] not in LOOPBACK:
            raise ValueError("the replica listens on loopback only")
        super().__init__(address, ReplicaHandler)
        self.state = state
        self.connections: set[Any] = set()  # open client sockets: keep-alive outlives shutdown()
        self._connections_lock = threading.Lock()
        host, port = str(self.server_address[0]), int(self.server_address[1])
        self.base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ReplicaServer:
    """A replica in a background thread: `with ReplicaServer(300) as site: site.url`."""

    def __init__(
        self,
        articles: int,
        port: int = 0,
        host: str = "127.0.0.1",
        access_log: Path | None = None,
        **catalogue: Any,
    ) -> None:
        self.state = ReplicaState(Catalogue(size=articles, **catalogue), access_log=access_log)
        self.httpd = ReplicaHTTPServer((host, port), self.state)
        self._thread: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._publisher_stop = threading.Event()

    @property
    def url(self) -> str:
        return self.httpd.base_url

    @property
    def hits(self) -> Counter[str]:
        return self.state.hits

    def publish(self, articles: int, edited: frozenset[int] = frozenset()) -> None:
        """The site moves on: `articles` in all now, `edited` ones revised as of this moment."""
        self._rebuild(size=articles, edited=edited)

    def _rebuild(self, **changes: Any) -> None:
        """A catalogue like the current one but for `changes` (its indexes built afresh)."""
        old = self.state.catalogue
        kept = {
            name: getattr(old, name)
            for name in ("size", "edited", "epoch", "step", "sections", "seed", "js_every")
        }
        self.state.catalogue = Catalogue(**{**kept, **changes})

    def publish_every(self, seconds: float, until: float | None = None, redate: bool = True) -> None:
        """The site publishes on a clock: one new article every `seconds`, dated the moment it
        appears (at the top of the RSS feed and on page 1 of its section), until `until`
        (time.time()) if given. `redate`: the articles already there are dated one `seconds`
        apart, the newest now; else the catalogue's own dates are the clock (a catalogue dated
        so already, whose next article may be due at once)."""
        if seconds <= 0:
            raise ValueError("publish_every: seconds must be > 0")
        step = timedelta(seconds=seconds)
        old = self.state.catalogue
        if redate or old.step != step:
            self._rebuild(epoch=datetime.now(UTC) - (old.size - 1) * step, step=step)
        self._publisher_stop.set()  # one clock at a time
        if self._publisher is not None:
            self._publisher.join(timeout=5)
        self._publisher_stop.clear()

        def publish() -> None:
            while True:
                size = self.state.catalogue.size
                due = self.state.catalogue.published(size).timestamp()
                if until is not None and due > until:
                    return
                if self._publisher_stop.wait(max(0.0, due - time.time())):
                    return
                self.publish(size + 1)

        self._publisher = threading.Thread(target=publish, name="replica-publisher", daemon=True)
        self._publisher.start()

    def start(self) -> ReplicaServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="replica", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._publisher_stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
