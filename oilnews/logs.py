"""What reaches a log or a terminal: secrets masked, control characters shown as escapes,
tracebacks only where asked for, drops in one line.

- `mask_secrets`: the password of any URL in a text becomes `***` (database, Redis, scrapyd).
- `install_masking`: every log record's message passes through it before any handler sees it.
  Installed by the oilnews add-on (every way of running builds a crawler) and by the CLI;
  importing this module changes nothing.
- `hide_tracebacks`: on a terminal at the default level a failure is one line; the traceback
  goes to `--log-file` or shows at `--log-level DEBUG`.

It imports no Scrapy: every command loads it, the read commands without Scrapy. Scrapy's
LOG_FORMATTER is oilnews.extensions.log_formatter.
"""

from __future__ import annotations

import logging
import re

# The password runs to the *last* @ of the URL (greedy, then back to an @): one with an unescaped
# @ or / in it is masked whole, not cut at its first @.
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>\S+)(?P<tail>@)", re.I)


def mask_secrets(text: str) -> str:
    """Password in any URL inside `text` replaced by ***, for logs and stored stats."""
    return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", text)


def first_line(error: BaseException | str) -> str:
    """The first line of an error's text, masked: what a one-line message quotes."""
    text = str(error).strip() or (type(error).__name__ if isinstance(error, BaseException) else "")
    return mask_secrets(text.splitlines()[0] if text else "")


# What a terminal acts on rather than prints: C0 controls but newline and tab, DEL, C1 controls
# (U+0080-U+009F, 8-bit CSI among them), and the bidirectional overrides that reorder a line.
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """Text from a page or a stored row, safe to print on a terminal: every control character
    but newline and tab shown as a visible escape (`\\x1b`), so a title can neither retitle the
    window, clear the screen nor recolour what follows. The stored text stays exact."""
    return _TERMINAL_CONTROL.sub(_visible, text)


class MaskingLogRecord(logging.LogRecord):
    """Every log line with its secrets masked and its control characters made visible (a
    logged title or URL from a page cannot drive the terminal that shows the log)."""

    def getMessage(self) -> str:
        return for_terminal(mask_secrets(super().getMessage()))


def install_masking() -> None:
    if logging.getLogRecordFactory() is not MaskingLogRecord:
        logging.setLogRecordFactory(MaskingLogRecord)


class _OneLineFormatter(logging.Formatter):
    """The wrapped formatter's line, without the traceback a record may carry."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            line = self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        if saved[0] is not None:
            line += " (traceback: --log-level DEBUG or --log-file)"
        return line


def hide_tracebacks(level: int | str) -> None:
    """Below DEBUG on stderr, log records lose their tracebacks (they stay in a log file)."""
    if logging.getLevelName(level) == logging.DEBUG or level == logging.DEBUG:
        return
    for handler in logging.getLogger().handlers:
        on_terminal = isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        )
        if on_terminal and not isinstance(handler.formatter, _OneLineFormatter):
            handler.setFormatter(_OneLineFormatter(handler.formatter))
