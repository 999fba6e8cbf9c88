"""README.md's demos, run as written: the replica demo's block, then the data-out block, the
Python example and the distributed demo on what it made, each in a fresh shell, in order, in a
scratch directory that has the checkout's `.venv` (what `scripts/crawl` made) beside them, as a
clone would; the watch demo (a minute of watching) runs beside them. The crawl and test commands
are .ci/run's; the Development block is tests/e2e/test_readme_development.py's; deploy/README.md's
are tests/e2e/test_deploy_readme.py's.

The demos serve on ports 8900 and 8901 because the README says so: this is the one test that
binds them. The distributed demo's database is `oilnews_demo` on the local PostgreSQL, as written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import create_engine, text

from tests.helpers import POSTGRES_ADMIN_URL, ROOT, query, unavailable

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(name: str) -> str:
    """The code between <!-- name --> and <!-- /name --> in README.md, fences dropped."""
    found = re.search(rf"<!-- {name} -->\n```\w+\n(.*?)```\n<!-- /{name} -->", README, re.S)
    assert found, f"README.md has no {name} block"
    return found.group(1)


DEMO_DATABASE = "oilnews_demo"  # the distributed demo's, as README.md names it


class Block:
    """A README block running in a fresh shell in `cwd`, in a process group of its own (its `&`
    server goes with it on exit); output to files, not pipes: the server keeps its standard
    streams open after the block ends."""

    def __init__(self, name: str, cwd: Path, env: dict[str, str]) -> None:
        self.logs = cwd.parent / f"{cwd.name}-{name}"
        self.logs.mkdir()
        with (self.logs / "out").open("w") as out_file, (self.logs / "err").open("w") as err_file:
            self.process = subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", block(name)],
                cwd=cwd,
                env=env,
                stdout=out_file,
                stderr=err_file,
                start_new_session=True,
            )

    def finish(self, timeout: float) -> tuple[str, str]:
        """(stdout, stderr) once the block has ended with exit 0."""
        self.process.wait(timeout=timeout)
        out, err = (self.logs / "out").read_text(), (self.logs / "err").read_text()
        assert self.process.returncode == 0, err[-3000:]
        return out, err

    def __enter__(self) -> Block:
        return self

    def __exit__(self, *_: object) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def drop_demo_database() -> None:
    try:
        admin = create_engine(
            POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)'))
        admin.dispose()
    except Exception as error:
        unavailable(f"the distributed demo needs PostgreSQL at {POSTGRES_ADMIN_URL}: {error}")


def test_the_readme_demos_run_as_written_and_return_rows(tmp_path: Path) -> None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()  # the distributed demo's, as written
    except Exception as error:
        unavailable(f"the distributed demo needs Redis on 127.0.0.1:6379: {error}")
    drop_demo_database()  # `createdb` in the block: "once"
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OILNEWS_") or k.startswith("OILNEWS_TEST_")
    }
    watching = tmp_path / "watch"
    watching.mkdir()
    (watching / ".venv").symlink_to(ROOT / ".venv")
    with Block("watch-demo", watching, env) as watch, Block("replica-demo", tmp_path, env) as demo:
        out, err = demo.finish(timeout=600)
        assert "articles new 5000" in err and " finished " in out  # the crawl's summary; `runs`

        def succeeds(*argv: str) -> subprocess.CompletedProcess[str]:
            result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr[-3000:]
            return result

        data_out = succeeds("bash", "-euo", "pipefail", "-c", block("data-out"))
        assert pq.read_table(tmp_path / "articles.parquet").num_rows == 5000
        energy = (tmp_path / "energy.csv").read_text(encoding="utf-8").splitlines()
        assert len(energy) > 100 and energy[0].startswith("id,url,title")
        assert len((tmp_path / "new.jsonl").read_text().splitlines()) == 5000
        assert json.loads((tmp_path / "state" / "export.json").read_text())["changed_at"]
        authors = [json.loads(line) for line in data_out.stdout.splitlines() if line.startswith('{"id"')]
        assert len(authors) >= 5 and all(a["articles"] > 0 for a in authors)
        assert "[pipeline]" in data_out.stdout.lower() or "[sanctions]" in data_out.stdout.lower()  # a hit
        assert "Saudi Arabia Boosts Crude Exports" in data_out.stdout  # `show`

        python = succeeds(str(tmp_path / ".venv" / "bin" / "python"), "-c", block("python-api"))
        printed = python.stdout.splitlines()
        assert len(printed) == 17, python.stdout  # the 16 articles its comment promises, then the hits
        assert "Gas Imports" in printed[-1]

        reparse = succeeds("bash", "-euo", "pipefail", "-c", block("reparse"))
        assert re.search(r"articles new 0, updated 0, unchanged [1-9]\d+,", reparse.stderr), reparse.stderr
        assert reparse.stdout.splitlines()[1].split()[1:2] == ["reparse"], reparse.stdout  # `runs --limit 1`

        try:
            distributed = succeeds("bash", "-euo", "pipefail", "-c", block("distributed-demo"))
            demo_url = f"postgresql://127.0.0.1/{DEMO_DATABASE}"
            articles, urls = query(demo_url, "select count(*), count(distinct url) from articles")[0]
            assert articles == urls > 100, distributed.stderr[-3000:]  # none twice
            workers = query(demo_url, "select run_group, worker, status, stats from crawl_runs order by id")
            assert len(workers) == 2 and workers[0].run_group == workers[1].run_group, workers
            assert workers[0].worker != workers[1].worker and {w.status for w in workers} == {"finished"}
            listed = [line for line in distributed.stdout.splitlines()[1:] if " finished " in line]
            assert len(listed) == 2, distributed.stdout  # `runs --workers`: a row a worker
        finally:
            drop_demo_database()

        watch_out, watch_err = watch.finish(timeout=300)
        new = re.search(r"articles new (\d+)", watch_err)
        assert new and 301 <= int(new.group(1)) <= 304, watch_err[-3000:]  # 300 listed, 1-4 published
        assert " finished " in watch_out, watch_out  # `runs`
