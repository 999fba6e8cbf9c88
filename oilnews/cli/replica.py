"""`oilnews replica serve`: the local replica of the site on 127.0.0.1, for tests, benchmarks
and demos (oilnews.replica)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from oilnews.errors import ExitCode, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from oilnews.cli import ArgumentParser

    replica_sub = parser.add_subparsers(dest="replica_command", required=True, parser_class=ArgumentParser)
    serve = replica_sub.add_parser("serve", help="serve a replica on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8900, help="(default: 8900; 0: any free port, printed)")
    serve.add_argument(
        "--host", default="127.0.0.1", choices=("127.0.0.1", "::1", "localhost"), help="(default: 127.0.0.1)"
    )
    serve.add_argument("--articles", type=int, default=300, help="(default: 300)")
    serve.add_argument(
        "--edited", help="comma-separated article indexes served with a revised body (default: none)"
    )
    serve.add_argument("--access-log", help="append 'METHOD path status' lines here (default: none)")
    serve.add_argument(
        "--epoch",
        help="publication time of article 0 (ISO date); one more every 17 minutes (default: 2023-01-02T06:00Z)",
    )
    serve.add_argument("--broken-articles", action="store_true", help="serve article pages without a body")
    serve.add_argument(
        "--js-every",
        type=int,
        default=0,
        help="every Nth article needs a browser (body built by script, or a JS challenge; default: 0, none)",
    )
    serve.add_argument(
        "--publish-every",
        type=float,
        metavar="SECONDS",
        help="publish a new article every SECONDS, dated the moment it appears (default: none, a fixed set)",
    )
    serve.add_argument("--no-validators", action="store_true", help="no ETag/Last-Modified and never 304")
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from oilnews.replica.server import ReplicaServer

    edited = frozenset(int(i) for i in args.edited.split(",") if i) if args.edited else frozenset()
    extra: dict[str, Any] = {"edited": edited, "js_every": args.js_every}
    if args.epoch:
        from oilnews.dates import parse_user_instant

        try:
            extra["epoch"] = parse_user_instant(args.epoch)
        except ValueError as error:
            raise UsageError(f"--epoch: {error}") from None
    try:
        server = ReplicaServer(
            args.articles,
            port=args.port,
            host=args.host,
            access_log=Path(args.access_log) if args.access_log else None,
            **extra,
        )
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    server.state.broken_articles = args.broken_articles
    server.state.validators = not args.no_validators
    if args.publish_every is not None:
        if args.publish_every <= 0:
            raise UsageError(f"--publish-every {args.publish_every:g}: a number of seconds above 0")
        server.publish_every(args.publish_every)
    print(f"replica of {args.articles} articles serving on {server.url}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return ExitCode.OK
