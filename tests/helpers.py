"""Helpers the tests share: the real command line, real databases, the shared pages.

Fixtures live in conftest.py; everything a test imports lives here.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse
from sqlalchemy import create_engine, text

from oilnews.cli.crawl import crawl_argv

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("OILNEWS_TEST_SHARED_DIR", ROOT.parent / "shared"))
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
    """A real oilprice.com page from ../shared: absent, the test skips, and fails under CI."""
    path = SHARED_PAGES / name
    if not path.is_file():
        unavailable(f"{path} is absent: the real oilprice.com pages live in ../shared/oilprice-pages")
    return path


def html_response(path: Path, url: str) -> HtmlResponse:
    return HtmlResponse(url=url, body=path.read_bytes(), encoding="utf-8")


# What a developer's own shell may carry that must not leak into a test's command.
_CALLER_SETS = ("OILNEWS_DATABASE_URL", "OILNEWS_SITE_URL")


def oilnews_main(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`oilnews ARGS` in this process: oilnews.cli.main(argv) with its stdout, stderr and exit
    code captured, in ~ms instead of a fresh interpreter's seconds. For argument and error paths
    and the read commands, where no reactor starts; a crawl that runs needs run_oilnews."""
    from oilnews.cli import main

    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    saved_streams = sys.stdout, sys.stderr
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")  # .buffer, as a real one
    stderr = io.StringIO()
    try:
        for name in _CALLER_SETS:
            os.environ.pop(name, None)
        os.environ.update(env or {})
        os.chdir(cwd or ROOT)
        sys.stdout, sys.stderr = stdout, stderr
        code = main(list(args))
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    stdout.flush()
    out = stdout.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]
    return subprocess.CompletedProcess(["oilnews", *args], code, out, stderr.getvalue())


def run_oilnews(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line, in a fresh process (a Twisted reactor runs once per process)."""
    # The caller states site and database; a developer's own environment must not leak in.
    full_env = {k: v for k, v in os.environ.items() if k not in _CALLER_SETS}
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
        settings.setdefault("OILNEWS_WARC_DIR", tmp / "warc")
    elif not db.startswith("sqlite"):
        # Its default place would be ./warc, the checkout: a test that names no directory of
        # its own captures nothing (a SQLite file's captures go beside it, in the test's directory).
        settings.setdefault("OILNEWS_WARC_DIR", "")
    return crawl_argv(site, db, *extra, **settings)


# Watch mode's policy on a clock 240 times faster than the defaults (its seconds may be
# fractions): the behaviour of minutes, proven in seconds.
FAST_WATCH = {
    "OILNEWS_WATCH_MIN_SECONDS": 0.25,
    "OILNEWS_WATCH_MAX_SECONDS": 0.75,
    "OILNEWS_WATCH_LISTING_MAX_SECONDS": 1.5,
    "OILNEWS_WATCH_HEARTBEAT_SECONDS": 0.25,
    "OILNEWS_DB_FLUSH_SECONDS": 0.25,
}


def watch_command(site: str, db: str, tmp: Path, *extra: str, **settings: Any) -> list[str]:
    """argv of `oilnews watch --quiet` on `site` into `db`, polling on FAST_WATCH's clock
    (keyword arguments, which become `-s NAME=VALUE`, may set another)."""
    fast = {
        "OILNEWS_SPOOL_DIR": tmp / "spool",
        "OILNEWS_WARC_DIR": tmp / "warc",
        "OILNEWS_RENDER": "false",
        **FAST_WATCH,
        **settings,
    }
    return crawl_argv(site, db, *extra, command="watch", **fast)


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database on the shared server (a unique name: safe in parallel),
    dropped afterwards."""
    try:
        admin = create_engine(
            POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error}")
    name = f"oilnews_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def held_port() -> Iterator[int]:
    """A loopback port this test holds and nobody listens on: connecting is refused at once
    (a site that is down), and no other test can be handed the port meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def smtp_controller(handler: Any, **options: Any) -> Any:
    """aiosmtpd's Controller serving `handler` on a socket bound to port 0 before it starts,
    so no other test can be handed its port between choosing it and listening on it."""
    from aiosmtpd.controller import Controller

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))

    class HeldSocketController(Controller):  # type: ignore[misc]
        def _create_server(self) -> Any:
            return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)

    return HeldSocketController(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **options)


def _postgres_bin(tool: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
    if found:
        return str(found[-1])
    path = shutil.which(tool)
    if path is None:
        unavailable(f"PostgreSQL's {tool} is not installed (apt-get install postgresql)")
    return str(path)


class PrivatePostgres:
    """A PostgreSQL server of one test's own, for the tests that stop or restart the server:
    its own data directory, listening only on a Unix socket in that directory (no port to
    share or collide on), started and stopped with pg_ctl. The shared server at
    POSTGRES_ADMIN_URL keeps serving every other test, so these run in parallel with them."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="oilnews-pg-"))
        self.data = self.root / "data"
        # PostgreSQL will not run as root: as root, its own user runs it.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            if shutil.which("runuser") is None:
                unavailable("a private PostgreSQL run as root needs runuser (util-linux)")
            shutil.chown(self.root, "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.url = f"postgresql://postgres@/test?host={self.root}"
        self.start()
        self._run(_postgres_bin("createdb"), "-h", str(self.root), "-U", "postgres", "test")

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._as, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)}: {result.stdout}{result.stderr}")

    def _ctl(self, action: str) -> None:
        options = f"-c listen_addresses='' -c unix_socket_directories={self.root} -c fsync=off"
        log = self.root / "server.log"
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(log), "-w", action)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop")

    def restart(self) -> None:
        self._ctl("restart")

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


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
    """The rows of `sql`; a statement that returns none (an update, a delete) is committed."""
    from oilnews.storage.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return list(result) if result.returns_rows else []
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


def frameworks_loaded_by(program: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`program` run in a fresh interpreter from the checkout (it must succeed), and the modules
    of Scrapy and Twisted it had loaded at its end: what a read path must not pay for."""
    report = (
        "\nimport sys as _sys\nprint('loaded', sorted(m for m in _sys.modules"
        " if m.split('.')[0] in ('scrapy', 'twisted')), file=_sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program + report], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("loaded "), result.stderr[-3000:]
    return result, ast.literal_eval(last.removeprefix("loaded "))  # a list of names, printed by repr
