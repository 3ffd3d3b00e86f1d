"""The client/writer protocol: exit codes and the JSON state files both sides read."""

from __future__ import annotations

from pathlib import Path

import orjson

from parquet_logger.transport.protocol import (
    ControlExit,
    LiveWriterInfo,
    RunExit,
    UploadFailure,
    WriterStatus,
)


def test_exit_codes_are_the_documented_numbers() -> None:
    """The numbers scripts compare against do not move."""
    assert [int(code) for code in RunExit] == [0, 1, 2, 3, 4, 5]
    assert (ControlExit.DONE, ControlExit.FAILED, ControlExit.NO_WRITER) == (0, 1, 3)


def test_writer_settings_keep_a_null_target(tmp_path: Path) -> None:
    """writer.json says "no upload" as an explicit null, and reads back the same."""
    path = tmp_path / "writer.json"
    LiveWriterInfo(pid=12, s3_target=None).write(path)
    assert orjson.loads(path.read_bytes()) == {"pid": 12, "s3_target": None}
    assert LiveWriterInfo.read(path) == LiveWriterInfo(pid=12, s3_target=None)


def test_status_without_s3_has_no_upload_keys() -> None:
    """status.json of a writer without S3 carries none of the upload counters."""
    keys = set(orjson.loads(WriterStatus(running=True, pid=5).to_json()))
    assert "s3_target" not in keys
    assert "files_pending_upload" not in keys
    assert {"running", "pid", "events_written", "ring_fill", "last_error"} <= keys


def test_status_round_trips_with_upload_keys() -> None:
    """A status with S3 counters reads back equal, the failure's detail as an object."""
    failure = UploadFailure("b", "k", "NoSuchBucket: gone")
    status = WriterStatus(
        running=True,
        s3_target="s3://b/p/",
        files_uploaded=3,
        upload_failures=1,
        last_upload_error=failure.to_dict(),
    )
    assert WriterStatus.from_json(status.to_json()) == status
    assert UploadFailure.from_dict(status.last_upload_error or {}) == failure


def test_readers_tolerate_missing_unknown_and_torn_files(tmp_path: Path) -> None:
    """A missing key takes its default, an unknown key is ignored, a torn or missing file
    reads as None."""
    path = tmp_path / "status.json"
    path.write_bytes(b'{"pid": 7, "added_by_a_newer_writer": 1}')
    status = WriterStatus.read(path)
    assert status is not None
    assert (status.pid, status.events_written) == (7, 0)
    path.write_bytes(b'{"pid": 7')
    assert WriterStatus.read(path) is None
    assert UploadFailure.read(tmp_path / "absent.json") is None
    assert LiveWriterInfo.from_json(b"[1, 2]") == LiveWriterInfo()
