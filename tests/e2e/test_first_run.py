"""A user's first run: every mistake is one line on stderr and the exit code of README's table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oilnews.errors import ExitCode
from oilnews.replica.faults import CURLY_TITLE_PREFIX, Fault
from oilnews.replica.server import RSS_PATH, ReplicaServer
from tests.helpers import ROOT, crawl, frameworks_loaded_by, held_port, oilnews_main, query, run_oilnews, runs

README = (ROOT / "README.md").read_text(encoding="utf-8")


def one_error_line(stderr: str) -> str:
    """The whole of stderr, which must be exactly one `oilnews: ...` line."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("oilnews: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_readme_exit_code_table_is_the_enum() -> None:
    table = dict(re.findall(r"^\| `(\d+)` \| (\w+) \|", README, flags=re.M))
    assert {int(code): name for code, name in table.items()} == {c.value: c.name for c in ExitCode}


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--since", "2024/01"], "OILNEWS_SINCE=2024/01: expected a date"),
        (["-s", "OILNEWS_MAX_PAGES=abc"], "OILNEWS_MAX_PAGES=abc: expected a whole number"),
        (["--max-pages", "abc"], "argument --max-pages: invalid int value"),
        (["-s", "FOO"], "write -s NAME=VALUE"),
        (["-s", "CONCURRENT_REQUESTS=-5"], "CONCURRENT_REQUESTS=-5: must be between 1"),
        (["-s", "OILNEWS_HEALTH_MAX_ERROR_RATE=2"], "must be between 0 and 1"),
        (["-s", "OILNEWS_MAX_PAGE=3"], "did you mean OILNEWS_MAX_PAGES?"),
        (["-s", "OILNEWS_FULL=maybe"], "OILNEWS_FULL=maybe: expected true or false"),
        (["--site", "ftp://example.org"], "OILNEWS_SITE_URL=ftp://example.org: expected an http(s) URL"),
        (["--log-level", "LOUD"], "argument --log-level: invalid choice"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["-s", "LOG_LEVEL=NOPE"], "LOG_LEVEL=NOPE: expected one of critical"),
        (
            ["-s", "CONCURENT_REQUESTS=4"],
            "unknown setting CONCURENT_REQUESTS; did you mean CONCURRENT_REQUESTS?",
        ),
        (["-s", "RETRY_TIMEZ=4"], "unknown setting RETRY_TIMEZ; did you mean RETRY_TIMES?"),
    ],
)
def test_usage_errors_exit_64(arguments: list[str], says: str, sqlite_url: str, tmp_path: Path) -> None:
    result = oilnews_main(
        "crawl", "--site", "http://127.0.0.1:9", "--db", sqlite_url, *arguments, cwd=tmp_path
    )
    assert result.returncode == ExitCode.USAGE
    assert says in one_error_line(result.stderr)
    assert not list(tmp_path.iterdir()), "a usage error created files"


def test_scrapy_crawl_checks_arguments_too(sqlite_url: str) -> None:
    env = {**os.environ, "OILNEWS_DATABASE_URL": sqlite_url}
    for argument, says in (("since=2024/01", "expected a date"), ("bogus=1", "unknown spider argument")):
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", argument],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == ExitCode.USAGE, result.stderr
        # Scrapy logs its start-up at INFO first; the error is the last line, no traceback.
        assert says in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("database", "says"),
    [
        ("foo://bar", "'foo' databases are not supported"),
        ("mysql://u@127.0.0.1/db", "'mysql' databases are not supported"),
        ("not a url", "is not a database URL"),
    ],
)
def test_bad_database_urls_exit_3(database: str, says: str, replica: ReplicaServer) -> None:
    result = oilnews_main("crawl", "--site", replica.url, "--db", database)
    assert result.returncode == ExitCode.DATABASE
    assert says in one_error_line(result.stderr)
    assert not replica.hits, "the site was crawled into a database that cannot work"


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda url: url.rsplit("/", 1)[0] + "/no_such_db_oilnews", "create the database"),
        (lambda url: url.replace("postgres@", "no_such_role@"), "create the role"),
        (lambda url: url.replace("127.0.0.1", "no-such-host.invalid"), "check the host name"),
    ],
)
def test_missing_postgres_database_role_or_host_fail_at_once(
    change: object, says: str, postgres_url: str, replica: ReplicaServer
) -> None:
    url = change(postgres_url)  # type: ignore[operator]
    result = oilnews_main("crawl", "--site", replica.url, "--db", url)
    assert result.returncode == ExitCode.DATABASE
    line = one_error_line(result.stderr)  # one line: no retry warnings before it
    assert says in line
    assert not replica.hits


def test_read_only_database_exits_3_before_crawling(replica: ReplicaServer, tmp_path: Path) -> None:
    db_file = tmp_path / "ro.db"
    assert crawl(replica.url, f"sqlite:///{db_file}", "--max-pages", "1", tmp=tmp_path).returncode == 0
    hits = sum(replica.hits.values())
    result = oilnews_main(
        "crawl", "--site", replica.url, "--db", f"sqlite:///file:{db_file}?mode=ro&uri=true"
    )
    assert result.returncode == ExitCode.DATABASE
    assert "read-only" in one_error_line(result.stderr)
    assert sum(replica.hits.values()) == hits


def test_sqlite_path_that_cannot_be_created_exits_3(replica: ReplicaServer, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = oilnews_main("crawl", "--site", replica.url, "--db", f"sqlite:///{blocker / 'x.db'}")
    assert result.returncode == ExitCode.DATABASE
    assert f"cannot create the directory of {blocker / 'x.db'}" in one_error_line(result.stderr)
    assert blocker.read_text() == "not a directory" and not replica.hits


def test_site_down_exits_2(sqlite_url: str) -> None:
    with held_port() as port:
        result = oilnews_main("crawl", "--site", f"http://127.0.0.1:{port}", "--db", sqlite_url)
    assert result.returncode == ExitCode.UNREACHABLE
    assert f"cannot reach http://127.0.0.1:{port}" in one_error_line(result.stderr)


def test_missing_package_is_one_line_naming_it(
    replica: ReplicaServer, sqlite_url: str, tmp_path: Path
) -> None:
    """A component whose package will not import: exit 70 and the install command."""
    shadow = tmp_path / "shadow" / "scrapy_redis"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('scrapy_redis is broken here')\n")
    env = {"PYTHONPATH": str(shadow.parent), "OILNEWS_REDIS_URL": "redis://127.0.0.1:6379/0"}
    result = run_oilnews("crawl", "--site", replica.url, "--db", sqlite_url, env=env)
    assert result.returncode == ExitCode.INTERNAL
    line = one_error_line(result.stderr)
    assert "scrapy-redis is not installed" in line and "pip install" in line
    assert not replica.hits


def test_read_commands_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "oilnews.db"
    result = oilnews_main("runs", "--db", f"sqlite:///{missing}", cwd=tmp_path)
    assert result.returncode == ExitCode.DATABASE
    assert f"no database at {missing}" in one_error_line(result.stderr)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        (
            {"OILNEWS_DATABSE_URL": "sqlite:///x.db"},
            "unknown environment variable OILNEWS_DATABSE_URL; did you mean OILNEWS_DATABASE_URL?",
        ),
        (
            {"OILNEWS_MAX_PAGE": "2"},
            "unknown environment variable OILNEWS_MAX_PAGE; did you mean OILNEWS_MAX_PAGES?",
        ),
        ({"OILNEWS_SMTP_PORT": "smtp"}, "OILNEWS_SMTP_PORT=smtp: expected a whole number from 1 to 65535"),
    ],
)
@pytest.mark.parametrize("command", [["crawl", "--site", "http://127.0.0.1:9"], ["runs"], ["spool"]])
def test_the_environment_is_checked_as_settings_are(
    environment: dict[str, str], says: str, command: list[str], sqlite_url: str, tmp_path: Path
) -> None:
    """A typo in /etc/oilnews/env is an error naming the closest variable, for every command
    that reads the environment; so is a bad value of a variable read outside the settings."""
    database = [] if command == ["spool"] else ["--db", sqlite_url]
    result = oilnews_main(*command, *database, env=environment, cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE
    assert says in one_error_line(result.stderr)
    assert not list(tmp_path.iterdir())


def test_a_bad_value_in_the_environment_is_refused_at_the_crawls_start(
    sqlite_url: str, tmp_path: Path
) -> None:
    result = oilnews_main(
        "crawl",
        "--site",
        "http://127.0.0.1:9",
        "--db",
        sqlite_url,
        env={"OILNEWS_MAX_PAGES": "two"},
        cwd=tmp_path,
    )
    assert result.returncode == ExitCode.USAGE
    assert "OILNEWS_MAX_PAGES=two: expected a whole number" in one_error_line(result.stderr)


def test_every_setting_can_come_from_the_environment(sqlite_url: str) -> None:
    """OILNEWS_MAX_PAGES and OILNEWS_USE_RSS from the environment are the crawl's; an option wins
    over the environment (OILNEWS_MAX_HOPS=5 there, --max-hops 0 given)."""
    with ReplicaServer(200) as site:
        result = run_oilnews(
            "crawl",
            "--site",
            site.url,
            "--db",
            sqlite_url,
            "--max-hops",
            "0",
            env={"OILNEWS_MAX_PAGES": "1", "OILNEWS_USE_RSS": "false", "OILNEWS_MAX_HOPS": "5"},
        )
        hits = dict(site.hits)
    assert result.returncode == ExitCode.OK, result.stderr
    assert hits and not [path for path in hits if "/Page-2" in path], "OILNEWS_MAX_PAGES=1 was ignored"
    assert RSS_PATH not in hits, "OILNEWS_USE_RSS=false from the environment was ignored"
    stored = query(sqlite_url, "select count(*) from articles")[0][0]
    assert 0 < stored < 200, "--max-hops 0 did not win over OILNEWS_MAX_HOPS=5"


def test_read_commands_import_neither_scrapy_nor_twisted(sqlite_url: str) -> None:
    """`runs`, `status`, `export`, `search`, `show`, `report`, `spool` and `--help` start without
    Scrapy or Twisted (a read command costs what SQLAlchemy costs to import)."""
    assert oilnews_main("db", "upgrade", "--db", sqlite_url).returncode == 0
    code = (
        "import sys\n"
        "from oilnews.cli import main\n"
        f"db = {sqlite_url!r}\n"
        "for argv in (['runs', '--db', db], ['status', '--db', db], ['export', '--db', db, '--out', '-'],\n"
        "             ['search', 'oil', '--db', db], ['show', '1', '--db', db], ['spool'],\n"
        "             ['report', '--db', db, '--out', '/dev/null']):\n"
        "    print(argv[0], main(argv), file=sys.stderr)\n"
    )
    out, loaded = frameworks_loaded_by(code)
    assert "runs 0" in out.stderr and "report 0" in out.stderr, out.stderr
    assert loaded == []


def test_deleted_articles_are_not_errors(sqlite_url: str, tmp_path: Path) -> None:
    """A third of the linked articles answer 404: a fact of a news site, not a failed crawl."""
    with ReplicaServer(90) as site:
        cat = site.state.catalogue
        site.state.deleted = {cat.path(i) for i in range(90) if i % 3 == 1}
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
    assert result.returncode == ExitCode.OK, result.stderr
    (run,) = runs(sqlite_url)
    assert run.status == "finished" and run.health["ok"]
    assert run.counts["gone"] == len(site.state.deleted) and run.counts["errors"] == 0
    gone = {
        s["url"].removeprefix(site.url)
        for s in run.stats["oilnews/skipped_urls"]
        if s["reason"] == "gone_http_404"
    }
    assert gone == site.state.deleted
    assert query(sqlite_url, "select count(*) from articles")[0][0] == 60


def test_server_errors_still_fail_the_health_check(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(60) as site:
        cat = site.state.catalogue
        site.state.faults = {cat.path(i): Fault("500") for i in range(0, 60, 4)}
        result = crawl(site.url, sqlite_url, "-s", "RETRY_TIMES=0", tmp=tmp_path)
    assert result.returncode == ExitCode.UNHEALTHY
    assert "health check failed: error rate" in result.stderr.strip().splitlines()[-1]


def test_dropped_items_are_one_short_line_each(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(60) as site:
        site.state.broken_articles = True
        result = run_oilnews(
            "crawl", "--site", site.url, "--db", sqlite_url, "-s", f"OILNEWS_SPOOL_DIR={tmp_path}"
        )
    assert result.returncode == ExitCode.UNHEALTHY
    dropped = [line for line in result.stderr.splitlines() if "Dropped:" in line]
    assert len(dropped) == 60
    assert all(len(line) < 250 and "missing body" in line and "http://" in line for line in dropped), dropped[
        :3
    ]
    assert "Traceback" not in result.stderr


def test_utf8_bytes_win_over_a_wrong_header_charset(sqlite_url: str, tmp_path: Path) -> None:
    with ReplicaServer(40) as site:
        path = site.state.catalogue.path(7)
        title = site.state.catalogue.article(7).title
        site.state.faults = {path: Fault("charset_mismatch")}
        result = crawl(site.url, sqlite_url, tmp=tmp_path)
    assert result.returncode == ExitCode.OK, result.stderr
    (stored,) = query(sqlite_url, "select title from articles where url = :u", u=site.url + path)
    assert stored[0] == f"{CURLY_TITLE_PREFIX} {title}"
    assert runs(sqlite_url)[0].stats["oilnews/charset/utf8_over_header"] == 1


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["bogus=1"], "unknown spider argument 'bogus'"),
        (["since=2024/01"], "OILNEWS_SINCE=2024/01: expected a date"),
        (["max_pages=many"], "OILNEWS_MAX_PAGES=many: expected a whole number"),
        (["--spider", "nope"], "--spider 'nope': the spiders are news and watch"),
    ],
)
def test_schedule_checks_the_jobs_arguments_before_scrapyd_sees_them(arguments: list[str], says: str) -> None:
    with held_port() as port:  # no scrapyd there: the check comes first
        result = oilnews_main("schedule", "--url", f"http://127.0.0.1:{port}", *arguments)
    assert result.returncode == ExitCode.USAGE
    assert says in one_error_line(result.stderr)


def test_a_scrapy_crawl_job_refused_at_start_is_a_recorded_run(sqlite_url: str) -> None:
    """What a scrapyd job runs: a start refused by its checks is a failed run in `oilnews runs`."""
    assert oilnews_main("db", "upgrade", "--db", sqlite_url).returncode == 0
    env = {**os.environ, "OILNEWS_DATABASE_URL": sqlite_url}
    with held_port() as port:
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", f"site=http://127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr[-2000:]
    (run,) = runs(sqlite_url)
    assert (run.spider, run.status, run.finish_reason) == ("news", "failed", "site_unreachable")


def test_a_database_a_newer_oilnews_upgraded_is_exit_3_and_left_alone(
    replica: ReplicaServer, sqlite_url: str
) -> None:
    from sqlalchemy import text

    from oilnews.storage.engine import create_db_engine

    assert oilnews_main("db", "upgrade", "--db", sqlite_url).returncode == 0
    engine = create_db_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    for command in (["crawl", "--site", replica.url], ["runs"], ["db", "upgrade"], ["export"]):
        result = oilnews_main(*command, "--db", sqlite_url)
        assert result.returncode == ExitCode.DATABASE, (command, result.stderr)
        line = one_error_line(result.stderr)
        assert "was upgraded by a newer oilnews (schema revision 9999_from_the_future)" in line, line
    assert query(sqlite_url, "select version_num from alembic_version")[0][0] == "9999_from_the_future"
    assert query(sqlite_url, "select count(*) from crawl_runs")[0][0] == 0
    assert not replica.hits.get("/Latest-Energy-News/World-News/")


def test_the_backfill_month_is_read_from_the_environment(sqlite_url: str, tmp_path: Path) -> None:
    """As README and deploy/README say (the environment file): a bad one is refused at start."""
    result = run_oilnews(
        "crawl", "--site", "http://127.0.0.1:9", "--db", sqlite_url, env={"OILNEWS_BACKFILL_SINCE": "2024/01"}
    )
    assert result.returncode == ExitCode.USAGE
    assert "OILNEWS_BACKFILL_SINCE=2024/01: expected a date" in one_error_line(result.stderr)


@pytest.mark.parametrize(
    "url",
    ["postgresql://oilnews:p@ss/w0rd@127.0.0.1/oilnews", "postgresql://oilnews:pa/ss@127.0.0.1/oilnews"],
)
@pytest.mark.parametrize("command", [["runs"], ["db", "upgrade"], ["crawl", "--site", "http://127.0.0.1:9"]])
def test_a_password_with_an_unescaped_at_or_slash_is_exit_64_and_never_shown(
    url: str, command: list[str]
) -> None:
    result = oilnews_main(*command, "--db", url)
    assert result.returncode == ExitCode.USAGE
    line = one_error_line(result.stderr)
    assert "percent-encode them (@ as %40, / as %2F" in line and "OILNEWS_DATABASE_URL" in line
    assert "ss/w0rd" not in line and "pa/ss" not in line and "p@ss" not in line
