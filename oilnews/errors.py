"""Exit codes and the errors that end a command with one of them.

The exit-code table in README.md is this enum; `tests/unit/test_errors.py` keeps the two in step.
Every error here carries a message written for the person at the terminal: what is wrong and
what to do about it, on one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # healthy
    UNHEALTHY = 1  # a health check failed (details logged and in crawl_runs.health)
    UNREACHABLE = 2  # the site could not be reached: no page was downloaded
    DATABASE = 3  # the database is unusable: bad URL, driver, credentials, missing, read-only, full
    USAGE = 64  # bad arguments or settings (BSD sysexits EX_USAGE)
    INTERNAL = 70  # a bug or a broken installation (EX_SOFTWARE)
    SKIPPED = 75  # nothing done: the previous run still runs (EX_TEMPFAIL; cron and schedule)
    INTERRUPTED = 130  # stopped by SIGINT (Ctrl-C): what was fetched is stored (128 + 2)
    TERMINATED = 143  # stopped by SIGTERM (systemctl stop, kill): the same (128 + 15)


class OilnewsError(Exception):
    """An error a user can act on; `str()` is the one line printed on stderr."""

    exit_code = ExitCode.INTERNAL


class UsageError(OilnewsError):
    exit_code = ExitCode.USAGE


class SiteUnreachable(OilnewsError):
    exit_code = ExitCode.UNREACHABLE


class DatabaseUnusable(OilnewsError):
    """A database error that waiting will not fix: fail at once, never retry."""

    exit_code = ExitCode.DATABASE


class MissingDependency(OilnewsError):
    """A package oilnews needs is not importable: name it and the command that installs it."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, package: str, module: str, extra: str | None = None) -> None:
        target = f"'oilnews[{extra}]'" if extra else "."
        super().__init__(
            f"the package {package} is not installed (import {module} failed): "
            f"install it with `pip install {target}` from the oilnews checkout"
            + ("" if extra else f", or `pip install {package}`")
        )
        self.package = package


def require(module: str, package: str, extra: str | None = None) -> None:
    """Import `module` or raise MissingDependency naming `package` and how to install it."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as error:
        raise MissingDependency(package, module, extra) from error


def unknown_name(what: str, name: str, known: Iterable[str], otherwise: str) -> UsageError:
    """The usage error for a name that is not one of `known` (a setting, an environment
    variable): the closest known name as the fix, else where the names are listed."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return UsageError(f"unknown {what} {name}; " + (f"did you mean {close[0]}?" if close else otherwise))
