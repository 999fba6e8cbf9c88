"""Settings from the environment: every OILNEWS_ setting under its own name, and the variables
read outside the settings (SMTP, the cron wrapper), each checked; a name that is neither is a
usage error naming the closest one. Imports no Scrapy: the read commands use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from oilnews.config.formats import one_of, whole_number
from oilnews.errors import UsageError, unknown_name

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


def declared() -> dict[str, Any]:
    """Every OILNEWS_ setting with its default, from the settings module."""
    from oilnews import settings as module

    return {name: getattr(module, name) for name in dir(module) if name.startswith("OILNEWS_")}


# Variables read from the environment by what uses them rather than through settings: the
# e-mail delivery, the cron wrapper (deploy/cron/oilnews-cron), the CLI's traceback switch. Each
# with the check of its value (None: any text).
ENVIRONMENT_ONLY: dict[str, Callable[[str], str | None] | None] = {
    "OILNEWS_SMTP_HOST": None,
    "OILNEWS_SMTP_PORT": whole_number(1, 65535),
    "OILNEWS_SMTP_USER": None,
    "OILNEWS_SMTP_PASSWORD": None,
    "OILNEWS_SMTP_STARTTLS": one_of(("", "0", "1", "true", "false", "yes", "no")),
    "OILNEWS_SMTP_CA_FILE": None,
    "OILNEWS_ALERT_EMAIL_FROM": None,
    "OILNEWS_LOG_DIR": None,
    "OILNEWS_LOCK_FILE": None,
    "OILNEWS_LOCK_STALE_MINUTES": whole_number(1),
    "OILNEWS_LOG_MAX_BYTES": whole_number(1),
    "OILNEWS_LOG_KEEP": whole_number(1),
    "OILNEWS_DEBUG": None,
    "OILNEWS_BIN": None,  # the oilnews the deploy wrappers run
}
# The project's own test and benchmark switches (tests/helpers.py, bench/), never oilnews'.
_TOOLING_PREFIXES = ("OILNEWS_TEST_", "OILNEWS_BENCH_")


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings the environment sets: every `OILNEWS_` setting can be given there under its
    own name (below `-s` and command options, above settings.py). A variable that names no
    setting and nothing else oilnews reads is a UsageError naming the closest known name (a
    typo in /etc/oilnews/env must not be ignored), as is a bad value of one read elsewhere."""
    defaults = declared()
    values: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith("OILNEWS_") or name.startswith(_TOOLING_PREFIXES):
            continue
        if name in defaults:
            values[name] = environ[name]
            continue
        if name in ENVIRONMENT_ONLY:
            check = ENVIRONMENT_ONLY[name]
            problem = check(environ[name]) if check is not None else None
            if problem:
                raise UsageError(f"environment variable {name}={environ[name]}: expected {problem}")
            continue
        raise unknown_name(
            "environment variable",
            name,
            [*defaults, *ENVIRONMENT_ONLY],
            "the settings are listed in README.md",
        )
    return values


def setting(name: str, environ: Mapping[str, str]) -> Any:
    """One OILNEWS_ setting where no crawler is built (the read commands, the Python API): the
    environment's value, else settings.py's default; the whole environment checked first."""
    return from_environment(environ).get(name, declared()[name])


def apply_environment(settings: BaseSettings, environ: Mapping[str, str]) -> None:
    """The environment's settings into `settings`, above settings.py, below `-s` and options."""
    for name, value in from_environment(environ).items():
        settings.set(name, value, priority="project")
