"""deploy/README.md's root set-up and one-shot commands, run as written.

They create a system user, copy the checkout to /opt/oilnews, install it there, and write
/etc/oilnews, /var/log/oilnews and /var/lib/oilnews. The test runs them in a private mount
namespace (`unshare --mount`) whose /etc, /opt, /var/log and /var/lib are scratch copies, so
the machine keeps its own; everything else (the commands, the network, PyPI, the user
switching) is real. Two lines are stood in for: the optional `apt-get install chromium` (no
package installs from a test) and `$EDITOR` (a script that sets the database URL and the site,
as a person would). Cron and systemd sections need a running cron and systemd (PID 1) and are
verified separately (test_deploy.py: the cron script, `systemd-analyze verify`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, query, unavailable

README = ROOT / "deploy" / "README.md"


def _block(heading: str) -> list[str]:
    """The command lines of the first ```sh block under `heading`, comments dropped."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, f"no sh block under {heading!r}"
    return [
        line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.slow
def test_root_setup_and_one_shot_commands_run_as_written(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("runuser") is None:
        unavailable("the deploy commands need root, unshare and runuser")
    if shutil.which("git") is None:
        unavailable("git is needed to make the checkout the commands start from")
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True, timeout=120)
    for name in ("etc", "opt", "varlog", "varlib", "bin"):
        (tmp_path / name).mkdir()
    subprocess.run(["cp", "-a", "/etc/.", str(tmp_path / "etc")], check=True, timeout=120)
    stub = tmp_path / "bin" / "apt-get"
    stub.write_text('#!/bin/sh\necho "apt-get $*: left out by the test" >&2\n')
    stub.chmod(0o755)

    # A site publishing up to now, as the real one does (`crawl --since 2024-01` finds articles).
    epoch = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    with ReplicaServer(120, epoch=epoch, step=timedelta(hours=6)) as site:
        editor = tmp_path / "bin" / "editor"
        editor.write_text(
            "#!/bin/sh\n"
            "sed -i 's|^OILNEWS_DATABASE_URL=.*|OILNEWS_DATABASE_URL=sqlite:////var/lib/oilnews/oilnews.db|' \"$1\"\n"
            f"echo 'OILNEWS_SITE_URL={site.url}' >> \"$1\"\n"
        )
        editor.chmod(0o755)
        preparation = _block("## Common preparation")
        one_shot = _block("## 1. One-shot")
        assert any(line.startswith("useradd ") for line in preparation)
        script = "\n".join(
            [
                "set -euo pipefail",
                "mount --make-rprivate /",
                f"mount --bind {tmp_path / 'etc'} /etc",
                f"mount --bind {tmp_path / 'opt'} /opt",
                f"mount --bind {tmp_path / 'varlog'} /var/log",
                f"mount --bind {tmp_path / 'varlib'} /var/lib",
                f"export PATH={tmp_path / 'bin'}:$PATH EDITOR={editor}",
                f"cd {checkout}",  # "run from the root of your oilnews checkout"
                *preparation,
                *one_shot,
                # What the commands left, seen from inside (the scratch copies are root's outside).
                "stat -c '%a %U' /etc/oilnews/env /var/lib/oilnews /var/log/oilnews",
            ]
        )
        result = subprocess.run(
            ["unshare", "--mount", "bash", "-c", script], capture_output=True, text=True, timeout=1800
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    modes = result.stdout.strip().splitlines()[-3:]
    assert modes == ["600 oilnews", "750 oilnews", "750 oilnews"], result.stdout
    assert "run " in result.stdout and "finished" in result.stdout  # `oilnews runs` listed the runs
    db = f"sqlite:///{tmp_path / 'varlib' / 'oilnews' / 'oilnews.db'}"
    assert query(db, "select count(*) from articles")[0][0] == 120
    statuses = [row.status for row in query(db, "select status from crawl_runs order by id")]
    assert statuses == ["finished", "finished", "finished"]  # crawl, crawl --since, scrapy crawl
