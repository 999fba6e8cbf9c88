"""deploy/README.md's commands, run as written: set-up, one-shot, cron, the systemd timer
and the watcher's unit.

They create a system user, copy the checkout to /opt/oilnews, install it there, write /etc,
/var/log, /var/lib and /var/spool, and talk to cron and systemd. The test runs them in private
PID and mount namespaces whose /etc, /opt, /var/log, /var/lib, /var/spool, /tmp and /var/tmp are
scratch copies, with systemd itself as PID 1 (the machine's own services and the units that
touch the kernel, devices or /tmp are masked in the scratch /etc), so the machine keeps its own;
everything else (the commands, systemd running the units with their sandbox, cron, the network,
PyPI, the user switching) is real. Stood in for: `apt-get install` (no package installs from a
test: chromium is left out; for cron the stub does what the package's postinst does, enable and
start cron.service, cron itself being installed by scripts/services) and `$EDITOR` (a script
that sets the database URL and the site, as a person would). Cron is not made to wait for
its half-hour: the installed line is run the way cron runs it (its SHELL, an empty environment,
the user's home), and must print nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oilnews.replica.server import ReplicaServer
from tests.helpers import ROOT, PrivatePostgres, query, unavailable

README = ROOT / "deploy" / "README.md"


def _block(heading: str, nth: int = 0) -> list[str]:
    """The command lines of the `nth` ```sh block under `heading` (before the next heading of
    its level), comments dropped."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    level = heading.split()[0] + " "
    end = section.find("\n" + level, len(heading))
    blocks = re.findall(r"```sh\n(.*?)```", section if end < 0 else section[:end], re.S)
    assert len(blocks) > nth, f"no sh block {nth} under {heading!r}"
    return [line for line in blocks[nth].splitlines() if line.strip() and not line.lstrip().startswith("#")]


# Until scrapyd has no job pending or running (the schedule refuses a second one: exit 75).
WAIT_FOR_SCRAPYD = (
    "wait_for_scrapyd() { for _ in $(seq 1 300); do"
    ' out=$(. /etc/oilnews/env; curl -s -u "$SCRAPYD_USERNAME:$SCRAPYD_PASSWORD"'
    " 'http://127.0.0.1:6800/listjobs.json?project=oilnews');"
    """ case "$out" in *'"pending": []'*'"running": []'*) return 0 ;; esac; sleep 1; done; return 1; }"""
)


FOREGROUND_WATCH = "oilnews watch --max-minutes 60"  # section 5's foreground line, as pgrep sees it
# Until scrapyd runs a job (so cancelling it stops a running watcher, not a pending one).
WAIT_FOR_RUNNING = (
    'for _ in $(seq 1 120); do out=$(. /etc/oilnews/env; curl -s -u "$SCRAPYD_USERNAME:$SCRAPYD_PASSWORD"'
    " 'http://127.0.0.1:6800/listjobs.json?project=oilnews');"
    """ case "$out" in *'"running": [{'*) break ;; esac; sleep 0.5; done"""
)


# Units of the machine's own that must not run in the scratch system: they would touch the
# kernel, devices, /dev/console or clean /tmp (the first try without these masks emptied the
# machine's /tmp), or need D-Bus. The *.wants directories of the scratch /etc are emptied too.
MASKED = (
    "systemd-tmpfiles-setup.service",
    "systemd-tmpfiles-setup-dev.service",
    "systemd-tmpfiles-clean.timer",
    "systemd-udevd.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-sysctl.service",
    "systemd-remount-fs.service",
    "systemd-modules-load.service",
    "modprobe@.service",
    "systemd-binfmt.service",
    "systemd-pstore.service",
    "kmod-static-nodes.service",
    "systemd-hwdb-update.service",
    "systemd-sysusers.service",
    "systemd-logind.service",
    "systemd-user-sessions.service",
    "console-getty.service",
    "getty@tty1.service",
    "getty.target",
    "dbus.service",
    "dbus.socket",
    "e2scrub_reap.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
)
SCRATCH = {
    "etc": "/etc",
    "opt": "/opt",
    "varlog": "/var/log",
    "varlib": "/var/lib",
    "spool": "/var/spool",
    "backups": "/var/backups",
}
EMPTY = {"vartmp": "/var/tmp", "tmp": "/tmp"}  # /tmp last: the scratch copies may live under it


def _cron_line() -> tuple[str, str]:
    """(SHELL, command) of deploy/cron/crontab's one entry."""
    lines = [line for line in (ROOT / "deploy" / "cron" / "crontab").read_text().splitlines() if line.strip()]
    shell = next(line.split("=", 1)[1] for line in lines if line.startswith("SHELL="))
    (entry,) = [line for line in lines if not line.startswith("#") and "=" not in line.split()[0]]
    return shell, entry.split(None, 5)[5]


class ScratchSystem:
    """systemd as PID 1 of private PID and mount namespaces over scratch copies of the system."""

    def __init__(self, root: Path, postgres_socket_dir: Path) -> None:
        self.root = root
        self.postgres_socket_dir = postgres_socket_dir  # seen inside as /run/postgresql
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0

    def __enter__(self) -> ScratchSystem:
        etc = self.root / "etc"
        for unit in MASKED:
            (etc / "systemd" / "system" / unit).unlink(missing_ok=True)
            (etc / "systemd" / "system" / unit).symlink_to("/dev/null")
        for wants in (etc / "systemd" / "system").glob("*.wants"):
            shutil.rmtree(wants)
        mounts = [
            f"mount --bind {self.root / name} {target}" for name, target in {**SCRATCH, **EMPTY}.items()
        ]
        boot = "\n".join(
            [
                "set -e",
                "mount --make-rprivate /",
                # /run first: the socket directory is bound before /tmp, where it lives, is replaced.
                "mount -t tmpfs tmpfs /run",
                "mkdir /run/postgresql",
                f"mount --bind {self.postgres_socket_dir} /run/postgresql",
                *mounts,
                "exec env container=oilnews-test /lib/systemd/systemd --system --unit=multi-user.target",
            ]
        )
        with (self.root / "systemd.log").open("wb") as log:
            self.process = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "bash", "-c", boot],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
            if children.stdout.strip():
                self.pid = int(children.stdout.split()[0])
                state = self.run("systemctl is-system-running", timeout=10).stdout.strip()
                if state in ("running", "degraded"):
                    return self
            time.sleep(0.5)
        self.__exit__()
        raise AssertionError("systemd did not come up: " + (self.root / "systemd.log").read_text()[-3000:])

    def run(self, script: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        # Output to files, not pipes: a daemon the script starts in the background (scrapyd)
        # keeps a pipe open after the script ends, and reading it to its end would never end.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            done = subprocess.run(
                ["nsenter", "-t", str(self.pid), "-m", "-p", "--", "bash", "-c", script],
                stdout=out,
                stderr=err,
                timeout=timeout,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, out.read(), err.read())

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            if self.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, 9)  # PID 1 of the namespace: everything in it goes too
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.mark.slow
def test_every_deploy_command_runs_as_written(tmp_path: Path) -> None:
    tools = ("unshare", "nsenter", "runuser", "crontab", "cron", "git")
    if (
        os.geteuid() != 0
        or any(shutil.which(t) is None for t in tools)
        or not Path("/lib/systemd/systemd").exists()
    ):
        unavailable(
            f"the deploy commands need root, systemd and {', '.join(tools)} (scripts/services installs cron)"
        )
    for name in (*SCRATCH, *EMPTY):
        (tmp_path / name).mkdir()
    # What the commands start from lies in the scratch /tmp, where they see it.
    checkout, bin_dir = tmp_path / "tmp" / "checkout", tmp_path / "tmp" / "bin"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True, timeout=120)
    bin_dir.mkdir()
    for name, target in SCRATCH.items():
        if name != "opt":
            subprocess.run(["cp", "-a", f"{target}/.", str(tmp_path / name)], check=True, timeout=300)
    stub = bin_dir / "apt-get"
    stub.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" cron "*) exec systemctl enable --now cron.service ;; esac  # its postinst\n'
        'echo "apt-get $*: left out by the test" >&2\n'
    )
    stub.chmod(0o755)
    shell, cron_command = _cron_line()

    # A site publishing up to now, as the real one does (`crawl --since 2024-01` finds articles).
    epoch = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    # The PostgreSQL the README's role, database and pg_dump lines talk to over the local socket:
    # a server of the test's own, so the machine's keeps no oilnews role or database.
    postgres = PrivatePostgres()
    postgres.root.chmod(0o755)  # the socket's directory, as /var/run/postgresql is: every user may connect
    with (
        contextlib.closing(postgres),
        ReplicaServer(120, epoch=epoch, step=timedelta(hours=6)) as site,
        ScratchSystem(tmp_path, postgres.root) as system,
    ):
        editor = bin_dir / "editor"
        editor.write_text(
            "#!/bin/sh\n"
            "sed -i 's|^OILNEWS_DATABASE_URL=.*|OILNEWS_DATABASE_URL=sqlite:////var/lib/oilnews/oilnews.db|' \"$1\"\n"
            f"echo 'OILNEWS_SITE_URL={site.url}' >> \"$1\"\n"
        )
        editor.chmod(0o755)
        preparation = _block("## Common preparation")
        assert any(line.startswith("useradd ") for line in preparation)
        script = "\n".join(
            [
                "set -euo pipefail",
                "export PATH=/tmp/bin:$PATH EDITOR=/tmp/bin/editor",
                "cd /tmp/checkout",  # "run from the root of your oilnews checkout"
                *preparation,
                *_block("## 1. One-shot"),
                *_block("## 2. Cron"),
                "systemctl is-active cron.service",
                # The installed line, as cron runs it: its SHELL, an empty environment, the home.
                "cd /opt/oilnews && runuser -u oilnews -- env -i HOME=/opt/oilnews LOGNAME=oilnews"
                f" SHELL={shell} PATH=/usr/bin:/bin {shell} -c {shlex.quote(cron_command)}"
                " > /tmp/cron-line.out 2>&1",
                *_block("## 3. systemd timer"),
                "systemctl show -p Result --value oilnews-crawl.service",
                *_block("## 5. Watch mode"),
                "for _ in $(seq 1 60); do systemctl is-active -q oilnews-watch.service && break; sleep 1; done",
                "sleep 5; systemctl stop oilnews-watch.service",
                "systemctl show -p Result --value oilnews-watch.service",
                *_block("## 4. scrapyd"),
                WAIT_FOR_SCRAPYD,
                *(f"{line} && wait_for_scrapyd" for line in _block("## 4. scrapyd", 1)),
                # Section 5's watcher in the foreground, as written, stopped as a person stops
                # it (SIGTERM, as Ctrl-C is SIGINT): exit 143, what it fetched stored.
                *(f"( {line} ) & foreground=$!" for line in _block("## 5. Watch mode", 1)),
                # -u oilnews: the watcher itself, not this script (root's), whose text names it too
                f"for _ in $(seq 1 120); do pgrep -u oilnews -f {FOREGROUND_WATCH!r} >/dev/null && break; sleep 0.5; done",
                f"sleep 6; pkill -TERM -u oilnews -f {FOREGROUND_WATCH!r}",
                'code=0; wait "$foreground" || code=$?; echo "foreground watch exit $code"',
                # ... and as a scrapyd job, as written, cancelled once it runs, as an operator would.
                *(f"job=$({line})" for line in _block("## 5. Watch mode", 2)),
                WAIT_FOR_RUNNING,
                'sleep 6; (. /etc/oilnews/env; curl -s -u "$SCRAPYD_USERNAME:$SCRAPYD_PASSWORD"'
                ' -d project=oilnews -d job="$job" http://127.0.0.1:6800/cancel.json)',
                "wait_for_scrapyd",
                *_block("## Alerts and metrics"),
                _block("## 1. One-shot")[0],  # a crawl after it writes the metrics file
                "test -s /var/lib/node_exporter/textfile/oilnews.prom",
                *_block("## Backups"),
                # Then PostgreSQL, as a deployment moves to it: the role and the database, an
                # upgrade onto them (every writer stopped, migrated, started), a crawl, a dump.
                *_block("## Common preparation", 1),
                *_block("## Upgrading"),
                _block("## 1. One-shot")[0],
                *_block("## Backups", 1),
                "pg_restore --list /var/backups/oilnews.dump | grep -c 'TABLE DATA public articles '",
                # What the commands left, seen from inside (the scratch copies are root's outside).
                "stat -c '%a %U' /etc/oilnews/env /var/lib/oilnews /var/log/oilnews",
            ]
        )
        result = system.run(script)
        journal = system.run("journalctl --no-pager -n 80", timeout=60).stdout
        pg_articles, pg_role = None, None
        if result.returncode == 0:  # while the test's PostgreSQL still runs
            pg_db = postgres.url.replace("/test?", "/oilnews?")
            pg_articles = query(pg_db, "select count(*) from articles")[0][0]
            pg_role = query(pg_db, "select rolname from pg_roles where rolname = 'oilnews'")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:] + journal[-3000:]
    out = result.stdout
    modes = out.strip().splitlines()[-3:]
    assert modes == ["600 oilnews", "750 oilnews", "750 oilnews"], out
    assert "run " in out and "finished" in out  # `oilnews runs` listed the runs
    assert "*/30 * * * *" in out  # `crontab -u oilnews -l` shows the installed line
    assert (tmp_path / "tmp" / "cron-line.out").read_text() == ""  # success: nothing for cron to mail
    assert "oilnews-crawl.timer" in out  # systemctl list-timers
    assert out.count("success") >= 2, out  # the crawl unit's and the watcher's Result
    db = f"sqlite:///{tmp_path / 'varlib' / 'oilnews' / 'oilnews.db'}"
    assert query(db, "select count(*) from articles")[0][0] == 120
    backup = f"sqlite:///{tmp_path / 'varlib' / 'oilnews' / 'oilnews-backup.db'}"
    assert query(backup, "select count(*) from articles")[0][0] == 120  # the Backups section's copy
    assert pg_articles == 120 and pg_role  # the crawl after Upgrading; createuser's role
    assert (tmp_path / "backups" / "oilnews.dump").read_bytes().startswith(b"PGDMP")  # pg_dump's format
    assert out.strip().splitlines()[-4] == "1", out  # pg_restore --list found the articles' data
    rows = query(db, "select spider, status, finish_reason from crawl_runs order by id")
    news = [row for row in rows if row.spider == "news"]
    # crawl, crawl --since, scrapy crawl, the cron line, the systemd unit (the timer may add
    # one), two scrapyd jobs, the crawl that wrote the metrics file
    assert len(news) >= 8 and all(row.status == "finished" for row in news), rows
    watch = [row for row in rows if row.spider == "watch"]
    # The unit (systemctl stop), the foreground watcher (SIGTERM), the scrapyd job (cancelled).
    assert len(watch) == 3 and {row.finish_reason for row in watch} == {"shutdown"}, rows
    assert "foreground watch exit 143" in out, out
