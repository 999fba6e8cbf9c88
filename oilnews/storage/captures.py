"""Captured pages read back (what `oilnews reparse` works from): the complete WARC files of a
directory, where each response record lies, and one record's response."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oilnews.errors import UsageError
from oilnews.logs import first_line
from oilnews.storage.warc import WARC_SUFFIX, warc_directory_of

logger = logging.getLogger(__name__)


def check_captures(settings: Any) -> Path:
    """The directory a reparse reads, or the usage error saying there is nothing to read."""
    directory = warc_directory_of(settings)
    if directory is None:
        raise UsageError("no WARC directory: give --warc DIR (OILNEWS_WARC_DIR is empty)")
    if not directory.is_dir() or not warc_files(directory):
        raise UsageError(
            f"no WARC files (*.warc.gz) in {directory}: crawls write them to OILNEWS_WARC_DIR; "
            "give --warc DIR where they are"
        )
    return directory


@dataclass(order=True)
class Capture:
    """Where a response record lies: the newest capture of a URL wins a reparse."""

    fetched_at: datetime
    path: Path = field(compare=False)
    offset: int = field(compare=False)
    url: str = field(compare=False)


def warc_files(directory: Path) -> list[Path]:
    """The complete WARC files of a directory (and its subdirectories), oldest name first."""
    return sorted(p for p in directory.rglob(f"*{WARC_SUFFIX}") if p.is_file())


def _fetched_at(text: str | None) -> datetime:
    if not text:
        return datetime.min.replace(tzinfo=UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def captured_responses(path: Path) -> Iterator[tuple[Capture, int, str]]:
    """(where, HTTP status, content type) of each response record of one file. A file cut
    short (a crawl killed while writing) yields what it holds before the cut, then stops."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    with path.open("rb") as stream:
        records = ArchiveIterator(stream)
        try:
            for record in records:
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                status = int(record.http_headers.get_statuscode() or 0)
                content_type = record.http_headers.get_header("Content-Type") or ""
                date = _fetched_at(record.rec_headers.get_header("WARC-Date"))
                yield Capture(date, path, records.get_record_offset(), url), status, content_type
        except (ArchiveLoadFailed, EOFError, OSError, ValueError) as error:
            logger.warning("WARC file %s ends early: %s", path, first_line(error))


@dataclass
class CapturedPage:
    url: str
    status: int
    headers: dict[str, Any]
    body: bytes
    fetched_at: datetime


def read_capture(capture: Capture) -> CapturedPage:
    """The response of one record: its status, headers and body (decoded as it was sent)."""
    from warcio.archiveiterator import ArchiveIterator

    with capture.path.open("rb") as stream:
        stream.seek(capture.offset)
        record = next(iter(ArchiveIterator(stream)))
        body = record.content_stream().read()
        assert record.http_headers is not None
        headers: dict[str, Any] = {}
        for name, value in record.http_headers.headers:
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding"):
                headers.setdefault(name, []).append(value)
        return CapturedPage(
            url=capture.url,
            status=int(record.http_headers.get_statuscode() or 0),
            headers=headers,
            body=body,
            fetched_at=capture.fetched_at,
        )
