"""Helpers the tests share: the real command line, real databases, the shared pages.

Fixtures live in conftest.py; everything a test imports lives here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse
from sqlalchemy import text

from oilnews.cli import crawl_argv

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OILNEWS_SHARED_DIR", ROOT.parent / "shared"))
SHARED_PAGES = SHARED / "oilprice-pages"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get("OILNEWS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    """Skip on a user's machine, fail under CI: CI must have every service."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def shared_page(name: str) -> Path:
    path = SHARED_PAGES / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real oilprice.com pages live in ../shared/oilprice-pages")
    return path


def html_response(path: Path, url: str) -> HtmlResponse:
    return HtmlResponse(url=url, body=path.read_bytes(), encoding="utf-8")


def run_oilnews(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line, in a fresh process (a Twisted reactor runs once per process)."""
    # The caller states site and database; a developer's own environment must not leak in.
    full_env = {k: v for k, v in os.environ.items() if k not in ("OILNEWS_DATABASE_URL", "OILNEWS_SITE_URL")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "oilnews.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
    )


def crawl_command(site: str, db: str, *extra: str, tmp: Path | None = None, **settings: Any) -> list[str]:
    """argv of `oilnews crawl --quiet` on `site` into `db`; keyword arguments become `-s NAME=VALUE`."""
    if tmp is not None:
        settings.setdefault("OILNEWS_SPOOL_DIR", tmp / "spool")
    return crawl_argv(site, db, *extra, **settings)


def watch_command(site: str, db: str, tmp: Path, *extra: str, **settings: Any) -> list[str]:
    """argv of `oilnews watch --quiet` on `site` into `db`, polling on a fast clock (the replica
    publishes every few seconds); keyword arguments become `-s NAME=VALUE`."""
    fast = {
        "OILNEWS_SPOOL_DIR": tmp / "spool",
        "OILNEWS_WATCH_MIN_SECONDS": 1,
        "OILNEWS_WATCH_MAX_SECONDS": 3,
        "OILNEWS_WATCH_LISTING_MAX_SECONDS": 6,
        "OILNEWS_WATCH_HEARTBEAT_SECONDS": 1,
        "OILNEWS_RENDER": "false",
        **settings,
    }
    return crawl_argv(site, db, *extra, command="watch", **fast)


def pg_ctl(action: str) -> None:
    """`pg_ctlcluster ... main <action>` on the local PostgreSQL (start, stop, restart)."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir() or os.geteuid() != 0:
        unavailable("stopping or restarting PostgreSQL needs root and Debian's pg_ctlcluster")
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


def crawl(
    site: str, db: str, *extra: str, tmp: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return run_oilnews(*crawl_command(site, db, *extra, tmp=tmp)[3:], env=env or None)


def runs(url: str, limit: int | None = None) -> list[Any]:
    """crawl_runs rows, newest first, JSON columns decoded (stats, counts, health)."""
    from oilnews.storage.database import Database
    from oilnews.storage.runs import recent_runs

    database = Database(url)
    try:
        return database.transaction(lambda conn: recent_runs(conn, limit))
    finally:
        database.close()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    from oilnews.storage.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def project_settings(**overrides: Any) -> dict[str, Any]:
    import oilnews.settings as module

    values = {name: getattr(module, name) for name in dir(module) if name.isupper()}
    values.update(overrides)
    return values


def make_crawler(spidercls: Any = None, **overrides: Any) -> Any:
    """A configured Crawler (Scrapy's own test helper) carrying the project's settings."""
    from scrapy.utils.test import get_crawler

    return get_crawler(spidercls, project_settings(**overrides))
