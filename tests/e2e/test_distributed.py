"""Distributed mode: two workers share one frontier through Redis and one PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, crawl_command, oilnews_main, query, runs, unavailable

REDIS_URL = os.environ.get("OILNEWS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ARTICLES = 1000


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).ping()
    except Exception as error:
        unavailable(f"Redis at {REDIS_URL} is not reachable: {error}")
    return REDIS_URL


@pytest.mark.redis
def test_two_workers_share_one_crawl(redis_url: str, postgres_url: str, tmp_path: Path) -> None:
    """Two workers started together join one run (no generation named: they agree through
    Redis), then a second distributed run right after the first crawls the site again."""
    import redis

    with ReplicaServer(ARTICLES) as site:
        env = {
            **{k: v for k, v in os.environ.items() if k != "OILNEWS_REDIS_GENERATION"},
            "OILNEWS_REDIS_URL": redis_url,
            "OILNEWS_SPOOL_DIR": str(tmp_path / "spool"),
        }
        command = crawl_command(site.url, postgres_url, CONCURRENT_REQUESTS=8)
        workers = [
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        results = [(w.wait(timeout=600), w.stderr.read() if w.stderr else "") for w in workers]
        for worker in workers:
            if worker.stderr:
                worker.stderr.close()
        hits = dict(site.hits)
        # The next run, at once: the first run's fingerprints must not block it.
        site.state.hits.clear()
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        second_hits = dict(site.hits)
    assert again.returncode == 0, again.stderr
    sections = {p for p in second_hits if p.count("/") == 3 and p.endswith("/")}
    assert len(sections) >= 20, second_hits  # every section's listing read again

    assert [code for code, _ in results] == [0, 0], results
    article_paths = {p: n for p, n in hits.items() if p.endswith(".html") and "/Page-" not in p}
    twice = [p for p, n in article_paths.items() if n > 1]
    assert not twice, f"downloaded more than once: {twice[:5]}"
    # robots.txt is each worker's own; the chart's data calls are the browser's, one per blend
    listing_twice = [
        p for p, n in hits.items() if n > 1 and p != "/robots.txt" and not p.startswith("/freewidgets/")
    ]
    assert not listing_twice, listing_twice[:5]

    rows = query(
        postgres_url, "select count(*), count(distinct url), count(distinct content_hash) from articles"
    )
    assert tuple(rows[0]) == (ARTICLES, ARTICLES, ARTICLES)
    second, *worker_runs = runs(postgres_url)
    assert [r.status for r in worker_runs] == ["finished", "finished"]
    assert worker_runs[0].run_group == worker_runs[1].run_group != second.run_group
    pages = [r.counts["pages_article"] for r in worker_runs]
    assert all(p > 50 for p in pages), pages  # both workers did real work
    assert sum(pages) == len(article_paths)

    listed = oilnews_main("runs", "--db", postgres_url, "--json")
    views = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [len(v["workers"]) for v in views] == [1, 2]  # the distributed run is one row
    assert views[1]["counts"]["articles_new"] == ARTICLES and views[0]["counts"]["articles_new"] == 0
    per_worker = oilnews_main("runs", "--db", postgres_url, "--json", "--workers").stdout.splitlines()
    assert [len(json.loads(line)["ids"]) for line in per_worker] == [1, 1, 1]  # --workers: a row each

    server = redis.Redis.from_url(redis_url)
    for group in {r.run_group for r in (second, *worker_runs)}:
        keys = list(server.scan_iter(f"{group}:*"))
        assert keys and all(0 < server.ttl(k) <= 24 * 3600 for k in keys)  # the frontier expires
        server.delete(*keys)


def test_without_redis_url_nothing_of_redis_is_loaded(replica: ReplicaServer, sqlite_url: str) -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['oilnews', 'crawl', '--site', sys.argv[1], '--db', sys.argv[2], '--quiet', '--max-pages', '1']\n"
        "from oilnews.cli import main\n"
        "code = main()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'scrapy_redis'))\n"
        "print(code, loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OILNEWS_REDIS")}
    result = subprocess.run(
        [sys.executable, "-c", probe, replica.url, sqlite_url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip() == "0 []", result.stdout + result.stderr
