"""`oilnews schedule`: a `news` (or `watch`) job on scrapyd, unless one is pending or running
(exit 75 then); through scrapyd-client, credentials from the environment."""

from __future__ import annotations

import argparse
import os
import sys

from oilnews.errors import ExitCode, OilnewsError, SiteUnreachable, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="scrapyd URL (default: $SCRAPYD_URL or http://127.0.0.1:6800)")
    parser.add_argument("--project", default="oilnews", help="(default: oilnews)")
    parser.add_argument("--spider", default="news", help="(default: news)")
    parser.add_argument(
        "spider_args", nargs="*", metavar="NAME=VALUE", help="spider arguments, e.g. since=2024-01"
    )
    parser.set_defaults(func=run)


def check_spider_arguments(spider: str, arguments: dict[str, str]) -> None:
    """What the job would refuse at its start (exit 64 there, seen only in scrapyd's log),
    refused here: a spider that is not ours, an argument that names no setting, a value the
    setting does not take."""
    from scrapy.settings import Settings

    from oilnews import settings as project
    from oilnews.config import apply_spider_arguments, validate
    from oilnews.summary import WATCH_SPIDER

    if spider not in ("news", WATCH_SPIDER):
        raise UsageError(f"--spider {spider!r}: the spiders are news and {WATCH_SPIDER}")
    settings = Settings()
    settings.setmodule(project, priority="project")
    apply_spider_arguments(settings, arguments)
    validate(settings)


def run(args: argparse.Namespace) -> int:
    from oilnews.config import parse_assignment
    from oilnews.errors import require

    require("scrapyd_client", "scrapyd-client", extra="deploy")
    import requests
    from scrapyd_client.exceptions import ErrorResponse, MalformedResponse
    from scrapyd_client.pyclient import ScrapydClient

    url = (args.url or os.environ.get("SCRAPYD_URL") or "http://127.0.0.1:6800").rstrip("/")
    spider_args = [parse_assignment(pair) for pair in args.spider_args]
    check_spider_arguments(args.spider, dict(spider_args))
    client = ScrapydClient(url, os.environ.get("SCRAPYD_USERNAME"), os.environ.get("SCRAPYD_PASSWORD"))
    try:
        jobs = client.jobs(args.project)
        busy = sorted(
            str(job.get("id", "?"))
            for state in ("pending", "running")
            for job in jobs.get(state, [])
            if job.get("spider") == args.spider
        )
        if busy:
            print(
                f"oilnews: not scheduling: {args.spider} job {', '.join(busy)} is still pending or running on {url}",
                file=sys.stderr,
            )
            return ExitCode.SKIPPED
        print(client.schedule(args.project, args.spider, spider_args))
    except requests.ConnectionError:
        raise SiteUnreachable(
            f"cannot reach scrapyd at {url}: is it running? (set SCRAPYD_URL or --url)"
        ) from None
    except MalformedResponse as error:
        if "unauthorized" in str(error).lower():
            raise UsageError(
                f"scrapyd at {url} refused the credentials: set SCRAPYD_USERNAME and SCRAPYD_PASSWORD"
            ) from None
        raise OilnewsError(f"scrapyd at {url} did not answer with JSON: {str(error)[:200]}") from None
    except ErrorResponse as error:
        raise OilnewsError(f"scrapyd at {url}: {error}") from None
    return ExitCode.OK
