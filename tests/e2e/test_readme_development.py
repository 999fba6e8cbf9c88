"""README.md's Development block, run as written in the checkout: the fast lane and a subset
through `scripts/test` (ruff, mypy, then a pytest of their own: tests outside tests/e2e, so this
test is not among them), then `oilnews parse` of the fixture. A file of its own, so that xdist
runs it beside the README demos rather than after them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.e2e.test_readme import block
from tests.helpers import ROOT


@pytest.mark.slow
def test_the_readme_development_block_runs_as_written() -> None:
    # The inner pytest is a session of its own: nothing of this one's (its worker's id, its
    # options) or of the user's oilnews settings reaches it.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "OILNEWS_")) or k.startswith("OILNEWS_TEST_")
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("development")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # pytest's closing lines: "=== 273 passed, 214 deselected in 15.2s ===" (a skip would not match)
    summaries = re.findall(r"^=+ (\d+) passed(?:, \d+ deselected)? in [\d.]+s", result.stdout, re.M)
    assert len(summaries) == 2, result.stdout[-3000:]  # the fast lane, then the subset
    assert int(summaries[0]) > 200 and 0 < int(summaries[1]) < 100, summaries
    item = json.loads(result.stdout[result.stdout.index("\n{") + 1 :])  # `parse`: the last output
    assert item["title"].startswith("Kazakhstan On Edge As Russians Scramble")
    assert item["is_premium"] is True and item["summary"], item
