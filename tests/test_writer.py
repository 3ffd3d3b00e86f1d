"""The writer process: the CLI, signals, crash recovery through the journal, bad records."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import duckdb
import orjson
import pandas as pd
import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport import wire
from parquet_logger.transport.protocol import RunExit
from parquet_logger.transport.ring import Ring, RingLock
from parquet_logger.transport.statedir import StateDir
from tests.support import read_rows, run_python, wait_for, writer_running


def log_events(logger: ParquetLogger, n: int, prefix: str = "e") -> None:
    for i in range(n):
        logger.on_llm_start(
            {"name": "m"}, [f"prompt {i}"], run_id=uuid4(), tags=[f"logger_custom_id:{prefix}{i}"]
        )


def test_cli_writer_serves_producers_and_drains_on_sigterm(start_writer, make_logger, log_dir):
    """A writer started by hand serves loggers, survives them, and exits 0 on SIGTERM."""
    proc = start_writer()
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    logger = make_logger(start_writer=False)
    log_events(logger, 300)
    logger.flush(timeout=30)
    assert len(read_rows(log_dir)) == 300
    logger.close()
    assert proc.poll() is None, "a hand-started writer must not exit when producers leave"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == RunExit.OK
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()


def test_second_writer_for_a_directory_is_refused(log_dir, start_writer):
    """Only one writer per directory: the second exits with code 3 and says why."""
    first = start_writer()
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    second = start_writer()
    assert second.wait(timeout=15) == RunExit.ALREADY_RUNNING == 3
    assert "already running" in start_writer.output(second)
    assert first.poll() is None


def test_sighup_writes_buffered_events_now(start_writer, make_logger, log_dir):
    """SIGHUP makes the writer write what it holds without waiting for the interval."""
    proc = start_writer("--flush-interval-s", "3600")
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    logger = make_logger(start_writer=False)
    log_events(logger, 10)
    state = StateDir.for_log_dir(log_dir)
    ring = Ring.attach(state)
    assert ring is not None
    wait_for(lambda: ring.head > 0, 5, "the events to be in the ring")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(read_rows(log_dir)) == 10, 15, "the SIGHUP flush")
    ring.close()


def test_writer_killed_mid_commit_finishes_it_exactly_once(start_writer, make_logger, log_dir):
    """A writer dying right after journalling a commit: the next one publishes those files
    and resumes after them, so every event is on disk exactly once."""
    logger = make_logger(start_writer=False)
    log_events(logger, 500)
    crashing = f"""
        import os, sys
        import parquet_logger_daemon.journal as journal
        real_write = journal.write
        def write_then_die(path, entry):
            real_write(path, entry)
            os._exit(9)  # after the journal, before any rename and before the ring commit
        journal.write = write_then_die
        from parquet_logger_daemon.cli import main
        # Nobody flushes: a short interval makes this writer commit on its own.
        sys.exit(main(["run", "--dir", {str(log_dir)!r}, "--flush-interval-s", "0.1"]))
    """
    result = run_python(crashing)
    assert result.returncode == 9, result.stderr
    tmp_files = list(log_dir.rglob(".part-*.parquet.tmp"))
    assert tmp_files, "the crashed writer should have left its journalled .tmp files"
    assert read_rows(log_dir).empty

    start_writer()
    logger.flush(timeout=30)
    log_events(logger, 100, prefix="after")
    logger.flush(timeout=30)
    df = read_rows(log_dir)
    assert len(df) == 600
    assert df["event_id"].is_unique
    assert not list(log_dir.rglob("*.tmp"))


def test_stale_tmp_files_are_removed(make_logger, log_dir):
    """A .tmp part file not in the journal is a crash leftover: the next writer deletes it."""
    stale = log_dir / "date=2026-01-01" / ".part-20260101T000000000000Z-h-1-000000.parquet.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    logger = make_logger()
    log_events(logger, 5)
    logger.flush(timeout=30)
    assert not stale.exists()
    assert len(read_rows(log_dir)) == 5


def foreign_records_among_events(
    logger: ParquetLogger, log_dir: Path, bodies: list[bytes]
) -> pd.DataFrame:
    """Put `bodies` on the ring as a foreign producer would, between 3 events and 3 more of
    `logger`; flush and return every row read back."""
    log_events(logger, 3)
    state = StateDir.for_log_dir(log_dir)
    ring = Ring.attach(state)
    assert ring is not None
    lock = RingLock(state.ring_lock)
    for body in bodies:
        assert ring.put(body, lock, 1.0)
    ring.close()
    lock.close()
    log_events(logger, 3, prefix="later")
    logger.flush(timeout=30)
    return read_rows(log_dir)


def raw_record(partition: str, meta_json: bytes, payload: bytes) -> bytes:
    """A ring body with meta bytes exactly as given (a foreign or damaged producer)."""
    prefix = struct.pack("<BHI", wire.WIRE_VERSION, len(partition), len(meta_json))
    return prefix + partition.encode() + meta_json + payload


def test_garbage_in_the_ring_is_kept_as_invalid_records(make_logger, log_dir):
    """A record that is not valid wire format becomes an `invalid_record` row; the rest land."""
    df = foreign_records_among_events(make_logger(), log_dir, [b"\x07not a record at all"])
    assert len(df) == 7
    bad = df[df["event_type"] == "invalid_record"]
    assert len(bad) == 1
    assert "not a record at all" in bad["payload"].iloc[0]


def test_a_payload_that_is_not_utf8_is_kept_readable(make_logger, log_dir):
    """A well-framed record whose payload is not UTF-8 (a foreign producer) is written with
    its text escaped and the error named; its neighbours in the same file are untouched."""
    meta = {"timestamp": 1_700_000_000_000_000, "event_type": "custom"}
    body = wire.encode("", meta, b'{"text":"caf\xe9"}')
    df = foreign_records_among_events(make_logger(), log_dir, [body])
    assert len(df) == 7
    foreign = df[df["event_type"] == "custom"]["payload"].map(json.loads).iloc[0]
    assert "utf-8" in foreign["$invalid_utf8"]
    assert foreign["payload"] == '{"text":"caf\\xe9"}'
    others = df[df["event_type"] != "custom"]["payload"].map(json.loads)
    assert all(p["event_type"] == "llm_start" for p in others)


def test_malformed_meta_objects_cost_only_their_own_fields(make_logger, log_dir):
    """Foreign records whose typed fields are not JSON, of the wrong type, or spread over
    lines are all kept; the batch they share with good records is written in full."""
    today = f"date={datetime.now(UTC):%Y-%m-%d}"
    ts = int(time.time() * 1e6)
    foreign = [
        raw_record(today, b"{not json", b'{"n":1}'),
        raw_record(
            today,
            orjson.dumps({"timestamp": ts, "input_tokens": "many", "name": 7, "pid": 1.5}),
            b'{"n":2}',
        ),
        raw_record(today, b'{"timestamp": %d,\n "event_type": "custom"}' % ts, b'{"n":3}'),
    ]
    df = foreign_records_among_events(make_logger(), log_dir, foreign)
    assert len(df) == 9
    assert (df["event_type"] == "llm_start").sum() == 6
    invalid = df[df["event_type"] == "invalid_record"]["payload"].map(json.loads)
    assert len(invalid) == 1
    assert "{not json" in invalid.iloc[0]["record"]
    coerced = df[df["payload"] == '{"n":2}'].iloc[0]
    assert pd.isna(coerced["input_tokens"])
    assert coerced["name"] == "7"
    assert pd.isna(coerced["pid"])
    assert (df["event_type"] == "custom").sum() == 1


def test_counts_past_int64_are_nulled_with_their_row_kept(make_logger, log_dir):
    """Foreign records with a count past int64 (a JSON number; 2**63 is one orjson writes)
    are kept with that column null."""
    today = f"date={datetime.now(UTC):%Y-%m-%d}"
    ts = int(time.time() * 1e6)
    foreign = [
        raw_record(today, b'{"timestamp":%d,"input_tokens":%d}' % (ts, 2**70), b'{"n":1}'),
        raw_record(today, b'{"timestamp":%d,"total_tokens":%d}' % (ts, 2**63), b'{"n":2}'),
    ]
    df = foreign_records_among_events(make_logger(), log_dir, foreign).set_index("payload")
    assert len(df) == 8
    assert pd.isna(df.loc['{"n":1}', "input_tokens"])
    assert pd.isna(df.loc['{"n":2}', "total_tokens"])


def test_typed_text_that_is_not_utf8_keeps_its_row_and_the_file_readable(make_logger, log_dir):
    """A foreign record whose `name` bytes are not UTF-8 is kept with U+FFFD in their place
    and its other fields intact; pyarrow's JSON reader alone would store the bad bytes and
    every reader of the file (pandas, DuckDB) would fail on it."""
    today = f"date={datetime.now(UTC):%Y-%m-%d}"
    meta = b'{"timestamp":%d,"name":"caf\xe9","event_type":"custom"}' % int(time.time() * 1e6)
    df = foreign_records_among_events(make_logger(), log_dir, [raw_record(today, meta, b"{}")])
    assert len(df) == 7
    foreign = df[df["payload"] == "{}"].iloc[0]
    assert foreign["name"] == "caf\ufffd"
    assert foreign["event_type"] == "custom"
    files = [str(p) for p in log_dir.rglob("*.parquet")]
    counted = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet({files})").fetchall()
    assert counted == [(7,)]


def test_a_failed_write_is_retried_without_loss_or_duplicates(make_logger, log_dir):
    """While the partition folder cannot be made (a file is in its way) the writer keeps
    the records, sealed chunks included, and retries; once the way is clear every record
    lands exactly once and the failure is counted in the status file."""
    today = f"date={datetime.now(UTC):%Y-%m-%d}"
    log_dir.mkdir(parents=True, exist_ok=True)
    blocker = log_dir / today
    blocker.write_bytes(b"not a folder")
    logger = make_logger()
    n = 5000  # more than two sealed chunks (2048 records each) plus a remainder
    log_events(logger, n)
    with pytest.raises(TimeoutError):
        logger.flush(timeout=3)
    status_file = StateDir.for_log_dir(log_dir).status

    def write_errors() -> int:
        try:
            return int(orjson.loads(status_file.read_bytes()).get("write_errors", 0))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return 0

    wait_for(lambda: write_errors() >= 1, 10, "the failed write to be counted")
    blocker.unlink()
    log_events(logger, 10, prefix="after")
    logger.flush(timeout=30)
    df = read_rows(log_dir)
    assert len(df) == n + 10
    assert df["event_id"].is_unique
    assert set(df["custom_id"]) == {f"e{i}" for i in range(n)} | {f"after{i}" for i in range(10)}


def test_state_files_are_owner_only(make_logger, log_dir):
    """Ring, locks and state files are 0600, folders 0700; data files follow the umask."""
    logger = make_logger()
    log_events(logger, 2)
    logger.flush(timeout=30)
    state = StateDir.for_log_dir(log_dir)
    for path in [state.shm_ring, *state.root.iterdir()]:
        assert path.stat().st_mode & 0o077 == 0, path
    assert state.root.stat().st_mode & 0o777 == 0o700
    data_file = next(log_dir.rglob("*.parquet"))
    umask = os.umask(0)
    os.umask(umask)
    assert data_file.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
def test_read_only_directory_fails_at_construction(tmp_path):
    """A directory the user cannot write is an OSError naming log_dir, at construction."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    program = f"""
        import os, sys
        from parquet_logger import ParquetLogger  # before dropping root: /root is private
        os.setgid(65534); os.setuid(65534)
        try:
            ParquetLogger({str(locked)!r})
        except OSError as exc:
            print(exc)
            sys.exit(0)
        sys.exit(1)
    """
    result = run_python(program, env={**os.environ, "HOME": "/tmp"})
    assert result.returncode == 0, result.stderr
    assert "log_dir" in result.stdout
    assert "not a writable directory" in result.stdout


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, so that a full disk is real; skipped where mounting is not allowed."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_is_a_counted_failure_not_a_hang_and_nothing_is_lost(tiny_filesystem):
    """Writes fail on a full disk: flush raises TimeoutError, and once space returns every
    event lands exactly once (the ring held them meanwhile)."""
    log_dir = tiny_filesystem / "logs"
    logger = ParquetLogger(log_dir, flush_interval_s=0.2, event_types=["text"])
    try:
        filler = tiny_filesystem / "filler"
        with open(filler, "wb", buffering=0) as f:  # leave no byte free
            for chunk in (65536, 4096, 1):
                try:
                    while True:
                        f.write(b"\0" * chunk)
                except OSError:
                    pass
        for i in range(200):  # random text: it does not compress into the last free bytes
            text = os.urandom(2500).hex()
            logger.on_text(text, run_id=uuid4(), tags=[f"logger_custom_id:{i}"])
        with pytest.raises(TimeoutError, match="not yet in Parquet"):
            logger.flush(timeout=2)
        filler.unlink()
        logger.flush(timeout=30)
        df = read_rows(log_dir)
        assert len(df) == 200
        assert df["event_id"].is_unique
    finally:
        logger.close(timeout=30)
        wait_for(
            lambda: (
                not writer_running(log_dir) and not StateDir.for_log_dir(log_dir).shm_ring.exists()
            ),
            15,
            "the writer to exit",
        )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a process as another user")
def test_another_user_can_neither_read_nor_inject(make_logger, log_dir):
    """The ring, its lock and the state folder refuse another user, read and write alike."""
    logger = make_logger()
    log_events(logger, 3)
    logger.flush(timeout=30)
    state = StateDir.for_log_dir(log_dir)
    os.chmod(log_dir.parent, 0o755)
    targets = [state.shm_ring, state.ring_lock, state.status, state.writer_lock]
    program = f"""
        import os, sys
        os.setgid(65534); os.setuid(65534)
        refused = 0
        for path in {[str(t) for t in targets]!r}:
            for flags in (os.O_RDONLY, os.O_WRONLY):
                try:
                    os.close(os.open(path, flags))
                except PermissionError:
                    refused += 1
        print(refused)
    """
    result = run_python(program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(2 * len(targets))


def test_buffer_size_triggers_a_write(make_logger, log_dir):
    """With buffer_size set, full buffers are written without flush() or the interval."""
    logger = make_logger(buffer_size=10, flush_interval_s=3600)
    log_events(logger, 25)
    wait_for(lambda: len(read_rows(log_dir)) >= 20, 15, "two buffers of 10 to be written")
    logger.flush(timeout=30)
    assert len(read_rows(log_dir)) == 25


def test_max_file_bytes_triggers_a_write(make_logger, log_dir):
    """Buffered bytes beyond max_file_bytes make the writer write a file on its own."""
    logger = make_logger(max_file_bytes=64 * 1024, flush_interval_s=3600)
    for i in range(40):
        logger.on_llm_start(
            {"name": "m"}, [os.urandom(2048).hex()], run_id=uuid4(), tags=[f"logger_custom_id:{i}"]
        )
    wait_for(lambda: len(list(log_dir.rglob("*.parquet"))) >= 2, 15, "size-triggered files")
    logger.flush(timeout=30)
    assert len(read_rows(log_dir)) == 40


def test_default_settings_keep_a_trickle_in_one_file_until_flushed(make_logger, log_dir):
    """A steady trickle longer than a second makes no file by itself under the default
    interval (a minute); flush() then publishes it all as one file per partition."""
    logger = make_logger()
    deadline = time.monotonic() + 2.5
    n = 0
    while time.monotonic() < deadline:  # 20 events/s: the old 1 s interval made two files
        log_events(logger, 1, prefix=f"t{n}-")
        n += 1
        time.sleep(0.05)
    assert not list(log_dir.rglob("*.parquet"))
    logger.flush(timeout=30)
    assert len(list(log_dir.rglob("*.parquet"))) == 1
    assert len(read_rows(log_dir)) == n


def test_flush_interval_makes_events_visible_without_flush(make_logger, log_dir):
    """A notebook sees its events within about flush_interval_s, no flush() needed."""
    logger = make_logger(flush_interval_s=0.3)
    log_events(logger, 5)
    wait_for(lambda: len(read_rows(log_dir)) == 5, 15, "the interval flush")
