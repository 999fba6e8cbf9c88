"""README.md's demo, run as written: the replica demo's block, then the data-out block and the
Python example on the database it made, each in a fresh shell, in order, in a scratch directory
that has the checkout's `.venv` (what `scripts/crawl` made) beside them, as a clone would. The
crawl and test commands are .ci/run's; deploy/README.md's are tests/e2e/test_deploy_readme.py's.

The demo serves on port 8900 because the README says so: this is the one test that binds it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pyarrow.parquet as pq

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(name: str) -> str:
    """The code between <!-- name --> and <!-- /name --> in README.md, fences dropped."""
    found = re.search(rf"<!-- {name} -->\n```\w+\n(.*?)```\n<!-- /{name} -->", README, re.S)
    assert found, f"README.md has no {name} block"
    return found.group(1)


def test_the_readme_demo_runs_as_written_and_returns_rows(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OILNEWS_") or k.startswith("OILNEWS_TEST_")
    }
    # Files, not pipes: the block's `&` server keeps its standard streams open after the block ends.
    logs = tmp_path.parent / f"{tmp_path.name}-demo"
    logs.mkdir()
    with (logs / "out").open("w") as out_file, (logs / "err").open("w") as err_file:
        demo = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block("replica-demo")],
            cwd=tmp_path,
            env=env,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,  # the block's `&` server is in this group: ended with it below
        )
    try:
        demo.wait(timeout=600)
        out, err = (logs / "out").read_text(), (logs / "err").read_text()
        assert demo.returncode == 0, err[-3000:]
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
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)
