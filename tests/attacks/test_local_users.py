"""Another local user attacks a shared log directory or /dev/shm (issue #12, items 10-11).

The other user is simulated as root would meet one: files and symlinks chowned to `nobody`.
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir
from tests.support import read_rows, stop_writer, wait_for

NOBODY = 65534

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="chowning files to another user needs root (CI runs as root)"
)


def plant_symlink(link: Path, target: Path) -> None:
    """A symlink at `link` that another user (nobody) made."""
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A world-writable sticky folder, like /tmp, that several users log into."""
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    return folder


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A folder the attacker wants us to write into or chmod."""
    folder = tmp_path / "victim"
    folder.mkdir()
    os.chmod(folder, 0o755)
    return folder


def test_state_folder_symlink_is_refused_and_not_followed(shared: Path, victim: Path) -> None:
    """A planted `_parquet_logger` symlink: the logger refuses, naming the path, and neither
    chmods nor writes anything through it."""
    plant_symlink(shared / STATE_FOLDER, victim)
    with pytest.raises(OSError, match=r"_parquet_logger is a symlink"):
        ParquetLogger(shared, start_writer=False)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755
    assert list(victim.iterdir()) == []


def test_state_folder_of_another_user_is_refused(shared: Path) -> None:
    """A real `_parquet_logger` folder made by another user (mode 0777) is not used."""
    folder = shared / STATE_FOLDER
    folder.mkdir()
    os.chmod(folder, 0o777)
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(OSError, match=f"belongs to uid {NOBODY}"):
        ParquetLogger(shared, start_writer=False)
    assert list(folder.iterdir()) == []


def test_partition_symlink_of_another_user_is_not_written_through(
    shared: Path, victim: Path
) -> None:
    """`date=<today>` planted as a symlink: no part file lands in its target; the events wait
    in the ring, and are written once the symlink is gone."""
    log_dir = shared
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    plant_symlink(log_dir / f"date={today}", victim)
    logger = ParquetLogger(log_dir, flush_interval_s=0.1)
    try:
        for i in range(20):
            logger.log_event("custom_event", {"i": i})
        with pytest.raises(TimeoutError):
            logger.flush(timeout=2)
        assert list(victim.iterdir()) == []
        status = StateDir.for_log_dir(log_dir).status
        wait_for(lambda: b"symlink of uid" in status.read_bytes(), 60, "the refusal in status")
        (log_dir / f"date={today}").unlink()
        logger.flush(timeout=30)
    finally:
        logger.close(timeout=30)
        stop_writer(log_dir)
    assert len(read_rows(log_dir)) == 20
    assert list(victim.iterdir()) == []


def test_ring_name_taken_by_another_user_falls_back_to_a_private_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another user creates the ring's predictable /dev/shm name first: the logger warns,
    uses a name with a random part kept in the owner-only state folder, and logs fine."""
    log_dir = tmp_path / "logs"
    state = StateDir.for_log_dir(log_dir)
    squatted = state.shm_ring
    squatted.write_bytes(b"not yours")
    os.chown(squatted, NOBODY, NOBODY)
    os.chmod(squatted, 0o600)
    try:
        with caplog.at_level(logging.WARNING, logger="parquet_logger"):
            logger = ParquetLogger(log_dir, flush_interval_s=0.1)
        try:
            for i in range(50):
                logger.log_event("custom_event", {"i": i})
            logger.flush(timeout=30)
            ring = state.shm_ring
            assert ring != squatted
            assert ring.name.startswith(squatted.name + "-")
            assert ring.stat().st_uid == os.getuid()
            assert stat.S_IMODE(state.ring_name_file.stat().st_mode) == 0o600
        finally:
            logger.close(timeout=30)
            stop_writer(log_dir)
        assert any("another local user" in r.getMessage() for r in caplog.records)
        assert len(read_rows(log_dir)) == 50
        assert squatted.read_bytes() == b"not yours"
    finally:
        squatted.unlink(missing_ok=True)
        StateDir.for_log_dir(log_dir).shm_ring.unlink(missing_ok=True)


def test_ring_name_planted_as_symlink_is_not_followed(tmp_path: Path, victim: Path) -> None:
    """A symlink at the ring's /dev/shm name is neither followed nor truncated."""
    log_dir = tmp_path / "logs"
    state = StateDir.for_log_dir(log_dir)
    target = victim / "precious"
    target.write_bytes(b"keep me")
    squatted = state.shm_ring
    plant_symlink(squatted, target)
    try:
        logger = ParquetLogger(log_dir, flush_interval_s=0.1)
        try:
            logger.log_event("custom_event", {"i": 1})
            logger.flush(timeout=30)
        finally:
            logger.close(timeout=30)
            stop_writer(log_dir)
        assert target.read_bytes() == b"keep me"
        assert len(read_rows(log_dir)) == 1
    finally:
        squatted.unlink(missing_ok=True)
        StateDir.for_log_dir(log_dir).shm_ring.unlink(missing_ok=True)
