"""Passwords in URLs never reach a log line.

Scrapy logs its overridden settings, and a database or Redis URL may carry a password;
every log record's message is passed through mask_secrets before any handler sees it.
Installed when the settings module is imported, which every way of running does first.
"""

from __future__ import annotations

import logging

from oilnews.storage.db import mask_secrets


class MaskingLogRecord(logging.LogRecord):
    def getMessage(self) -> str:
        return mask_secrets(super().getMessage())


def install() -> None:
    if logging.getLogRecordFactory() is not MaskingLogRecord:
        logging.setLogRecordFactory(MaskingLogRecord)
