"""The README's cron line works verbatim on a fresh clone: the folder its output goes to is committed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from io import BytesIO

import pytest
from conftest import REPO


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, timeout=60, check=False)


def _cron_line() -> str:
    """The crontab entry in README.md's Scheduling section (five time fields, then the command)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Scheduling") :]
    (line,) = [line for line in section.splitlines() if re.match(r"^[\d*/,-]+( +[\d*/,-]+){4} +\S", line)]
    return line


@pytest.mark.skipif(shutil.which("git") is None or _git("rev-parse", "HEAD").returncode != 0, reason="needs a git checkout")
def test_the_readme_cron_line_runs_as_written_in_a_fresh_clone_and_appends_to_its_log(tmp_path):
    line = _cron_line()
    command = line.split(maxsplit=5)[5]
    assert command.startswith("cd /path/to/churnlab && .venv/bin/churnlab run "), command
    # A fresh clone: exactly the committed tree (git archive HEAD), plus a stand-in for the installed CLI.
    clone = tmp_path / "churnlab"
    clone.mkdir()
    tarfile.open(fileobj=BytesIO(_git("archive", "HEAD").stdout)).extractall(clone, filter="data")
    stub = clone / ".venv" / "bin" / "churnlab"
    stub.parent.mkdir(parents=True)
    stub.write_text('#!/bin/sh\necho "progress on stderr" >&2\necho "churnlab $*"\n')
    stub.chmod(0o755)
    shell = command.replace("/path/to/churnlab", str(clone))
    for _ in range(2):  # cron runs it every week: the log is appended to
        done = subprocess.run(["/bin/sh", "-c", shell], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    log = re.search(r">>\s*(\S+)", command).group(1)
    arguments = command.split(".venv/bin/churnlab ", 1)[1].split(" >>")[0]
    assert (clone / log).read_text().splitlines() == ["progress on stderr", f"churnlab {arguments}"] * 2
    # and the log itself is not committed by accident
    assert _git("check-ignore", "-q", log).returncode == 0
