"""WARC files: every fetch written as a request and a response record (WARC/1.1, gzip per
record), and read back by `oilnews reparse`.

The writer runs on a thread of its own behind a bounded queue: the reactor hands over what was
fetched and goes on; compressing and writing happen there, in constant memory (at most
QUEUE_RECORDS fetches wait). Files are named per run and rotated at a size; each begins with a
`warcinfo` record. A file being written ends in `.open` and is renamed when complete, as
Heritrix does: a reader that lists `*.warc.gz` sees only whole files.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any

from oilnews.logs import first_line

logger = logging.getLogger(__name__)

WARC_SUFFIX = ".warc.gz"
OPEN_SUFFIX = ".open"
QUEUE_RECORDS = 64  # fetches waiting for the writer: a few MB at most
AUTO = "auto"  # OILNEWS_WARC_DIR's default: beside the database
# Headers the record's HTTP head does not copy: the block is the body as it was received,
# de-chunked (Transfer-Encoding must not claim otherwise), and its length is written anew.
_REPLACED_HEADERS = frozenset({b"transfer-encoding", b"content-length"})


def warc_directory(setting: str, database_url: str) -> Path | None:
    """Where a crawl's WARC files go: `auto` is a `warc` folder beside a SQLite file (the
    place the crawl may already write), else `./warc`; empty turns capture off."""
    setting = setting.strip()
    if not setting:
        return None
    if setting != AUTO:
        return Path(setting)
    from oilnews.storage.engine import sqlite_path

    path = sqlite_path(database_url)
    return (path.parent if path is not None else Path(".")) / "warc"


def warc_directory_of(settings: Any) -> Path | None:
    """warc_directory of a crawl's settings (OILNEWS_WARC_DIR beside OILNEWS_DATABASE_URL)."""
    return warc_directory(
        str(settings.get("OILNEWS_WARC_DIR") or ""), str(settings.get("OILNEWS_DATABASE_URL"))
    )


@dataclass
class Fetch:
    """One request and its response, as the downloader saw them."""

    url: str
    method: str
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    status: int
    response_headers: list[tuple[bytes, bytes]]
    body: bytes
    fetched_at: datetime
    ip_address: str | None = None
    rendered: bool = False  # the body is the browser's DOM, not the bytes the server sent
    http_version: str = "HTTP/1.1"


@dataclass
class WriterCounts:
    records: int = 0
    bytes: int = 0
    files: int = 0
    failed: int = 0  # fetches not written: the disk refused
    error: str = ""  # the first failure, one line


def _http_head(first_line: str, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    lines = [first_line.encode("latin-1")]
    for name, value in headers:
        if name.lower() in _REPLACED_HEADERS:
            continue
        lines.append(name + b": " + value)
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _reason(status: int) -> str:
    """The status line's reason phrase ("OK"), empty for a code HTTP does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _target(url: str) -> tuple[str, str]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path or "/"
    return parts.netloc, path + (f"?{parts.query}" if parts.query else "")


class WarcWriter:
    """Fetches in, WARC files out, on a thread of its own. `put` never blocks for long: the
    queue holds QUEUE_RECORDS fetches; past that the caller waits for the disk."""

    def __init__(
        self, directory: Path, prefix: str, max_bytes: int, software: str, queue_size: int = QUEUE_RECORDS
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.software = software
        self.counts = WriterCounts()
        self._queue: queue.Queue[Fetch | None] = queue.Queue(maxsize=queue_size)
        self._stream: IO[bytes] | None = None
        self._path: Path | None = None
        self._serial = 0
        self._thread = threading.Thread(target=self._run, name="oilnews-warc", daemon=True)
        self._thread.start()

    def put(self, fetch: Fetch) -> None:
        self._queue.put(fetch)

    def close(self) -> WriterCounts:
        """Write what waits, close the file, end the thread (blocking: call it off the reactor)."""
        self._queue.put(None)
        self._thread.join()
        return self.counts

    # -- the writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            fetch = self._queue.get()
            if fetch is None:
                break
            if self.counts.error:  # the disk refused once: the crawl goes on without capture
                self.counts.failed += 1
                continue
            try:
                self._write(fetch)
            except Exception as error:  # the disk is full or gone: say it once, count the rest
                self.counts.failed += 1
                self.counts.error = f"{type(error).__name__}: {first_line(error)}"
                logger.error(
                    "WARC capture stopped: %s (%s); the crawl goes on without it",
                    self.counts.error,
                    self._path,
                )
        try:
            self._finish_file()
        except OSError as error:
            self.counts.error = self.counts.error or f"{type(error).__name__}: {first_line(error)}"
            logger.error("WARC file %s not completed: %s", self._path, first_line(error))

    def _write(self, fetch: Fetch) -> None:
        from warcio.warcwriter import WARCWriter

        if self._stream is None or self._stream.tell() >= self.max_bytes:
            self._finish_file()
            self._start_file()
        assert self._stream is not None
        writer = WARCWriter(self._stream, gzip=True, warc_version="1.1")
        date = fetch.fetched_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        host, target = _target(fetch.url)
        request_headers = [(b"Host", host.encode("latin-1")), *fetch.request_headers]
        request_block = (
            _http_head(f"{fetch.method} {target} HTTP/1.1", request_headers, fetch.request_body)
            + fetch.request_body
        )
        reason = _reason(fetch.status)
        response_block = (
            _http_head(
                f"{fetch.http_version} {fetch.status} {reason}".rstrip(), fetch.response_headers, fetch.body
            )
            + fetch.body
        )
        extra = {"WARC-Date": date}
        if fetch.ip_address:
            extra["WARC-IP-Address"] = fetch.ip_address
        if fetch.rendered:
            # Not the server's bytes: what the browser made of them (the page's DOM after its
            # scripts), said so that a replay or an audit can tell.
            extra["WARC-Oilnews-Rendered"] = "chromium"
        # Built from the whole HTTP message: warcio reads its head back out (http_headers=None)
        # and digests the body alone as the payload.
        response = writer.create_warc_record(
            fetch.url,
            "response",
            payload=io.BytesIO(response_block),
            length=len(response_block),
            warc_headers_dict=dict(extra),
            http_headers=None,
        )
        request = writer.create_warc_record(
            fetch.url,
            "request",
            payload=io.BytesIO(request_block),
            length=len(request_block),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
            http_headers=None,
        )
        before = self._stream.tell()
        writer.write_record(response)
        writer.write_record(request)
        self.counts.records += 2
        self.counts.bytes += self._stream.tell() - before

    def _start_file(self) -> None:
        from warcio.warcwriter import WARCWriter

        self.directory.mkdir(parents=True, exist_ok=True)
        self._serial += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        name = f"{self.prefix}-{stamp}-{self._serial:05d}{WARC_SUFFIX}"
        self._path = self.directory / (name + OPEN_SUFFIX)
        self._stream = self._path.open("wb")
        writer = WARCWriter(self._stream, gzip=True, warc_version="1.1")
        info = {
            "software": self.software,
            "hostname": socket.gethostname(),
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.prefix,
        }
        writer.write_record(writer.create_warcinfo_record(name, info))
        self.counts.files += 1

    def _finish_file(self) -> None:
        if self._stream is None or self._path is None:
            return
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        self._stream = None
        self._path.rename(self._path.with_name(self._path.name.removesuffix(OPEN_SUFFIX)))
