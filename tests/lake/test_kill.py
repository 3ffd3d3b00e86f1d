"""`lake commit` SIGKILLed anywhere: the table holds all of a run's files or none, and the
rerun finishes the work with every file added exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parquet_logger.lake import LakeSource
from parquet_logger.lake.cli import EXIT_OK, main
from tests.lake.killer import POINTS
from tests.lake.tables import assert_registered_once, log_adds, write_parts

REPO = Path(__file__).parents[2]


def run_killed(point: str, source: str) -> subprocess.CompletedProcess[str]:
    """Run `lake commit` in a process that SIGKILLs itself at `point`."""
    return subprocess.run(
        [sys.executable, "-m", "tests.lake.killer", point, source],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("point", "existing_table"),
    [(point, True) for point in POINTS] + [("before_commit", False), ("after_commit", False)],
    ids=lambda value: {True: "next-commit", False: "first-commit"}.get(value, value),
)
def test_killed_committer_leaves_all_or_nothing_and_rerun_finishes(tmp_path, point, existing_table):
    """Killed before the commit: nothing of the run is registered; after: all of it. The
    rerun registers the rest, and no file is ever added twice."""
    source = LakeSource(str(tmp_path))
    old = write_parts(tmp_path, 3)
    if existing_table:
        assert main(["commit", str(tmp_path)]) == EXIT_OK
    new = write_parts(tmp_path, 3)

    proc = run_killed(point, str(tmp_path))

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    registered = set(log_adds(source))
    before = set(old) if existing_table else set()
    assert registered == (before | set(new) | set(old) if point == "after_commit" else before)
    assert main(["commit", str(tmp_path)]) == EXIT_OK
    assert_registered_once(source)


def test_kills_at_arbitrary_moments_never_register_a_file_twice(tmp_path):
    """Rounds of new files and a committer killed at moments spread over a clean run's
    duration: after each kill the log adds each file at most once; a clean run then
    registers the rest."""
    source = LakeSource(str(tmp_path))
    command = [sys.executable, "-m", "parquet_logger.lake", "commit", str(tmp_path)]
    write_parts(tmp_path, 4)
    started = time.monotonic()
    full = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    run_s = time.monotonic() - started
    assert full.returncode == EXIT_OK, full.stderr
    killed = 0
    for fraction in (0.5, 0.8, 0.95):
        write_parts(tmp_path, 4)
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
        try:
            # The kill's timer: the run either ends first or is cut short here.
            proc.wait(timeout=fraction * run_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            killed += 1
        assert set(log_adds(source).values()) == {1}
    assert killed  # at least one run was cut short
    assert main(["commit", str(tmp_path)]) == EXIT_OK
    assert_registered_once(source)
