"""Fixtures: the replica, real SQLite and PostgreSQL databases (helpers are in tests/helpers.py).

Services may be missing on a user's machine (the test then skips and says why); under
CI=true a missing service is a failure, never a skip.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from oilnews.replica.server import ReplicaServer
from tests.helpers import PrivatePostgres, fresh_postgres_database

E2E = Path(__file__).resolve().parent / "e2e"


# The files that take longest (a minute or more of one worker each: --durations): run first,
# so the other worker works through the short ones meanwhile, instead of one of these holding
# the run's end while the other worker has nothing left to do (longest job first).
LONGEST_FIRST = ("test_readme.py", "test_deploy_readme.py", "test_rendering.py", "test_watch.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is marked `e2e`: `-m "not e2e"` is the fast lane. The
    longest files go first (the same order on every xdist worker: a stable sort)."""
    for item in items:
        if E2E in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)

    def rank(item: pytest.Item) -> int:
        name = Path(str(item.path)).name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'oilnews.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database per test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, to stop and restart (the shared one never is)."""
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Both databases oilnews supports: every storage test runs on each."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def replica() -> Iterator[ReplicaServer]:
    with ReplicaServer(300) as server:
        yield server


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    finally:
        server.shutdown()
        server.server_close()
