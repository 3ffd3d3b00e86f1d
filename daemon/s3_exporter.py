"""The S3 stage after the Parquet one: spool each file before the commit, upload after it.

A file's spool entry is written (durably) before the ring is committed past its records, so a
writer that dies at any point leaves either uncommitted records (written again) or a spool
entry (uploaded by the next writer). Producers learn how far uploads have got from two ring
words, `upload_settled` and `upload_failures`, and the detail of the last failure from
upload_error.json.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parquet_logger.s3config import S3Config
from parquet_logger.transport.ring import Ring
from parquet_logger.transport.statedir import StateDir

from .exporter import Batch, Exported, Exporter, PartitionBuffer
from .spool import Spool, SpoolEntry
from .upload import Uploader, key_for

log = logging.getLogger("parquet_logger_daemon")


class S3Exporter:
    """Wraps an exporter whose files are then uploaded to `config`'s bucket."""

    def __init__(
        self, inner: Exporter, config: S3Config, state: StateDir, ring: Ring, client: Any = None
    ) -> None:
        self.inner = inner
        self.config = config
        self.state = state
        self.ring = ring  # the writer's ring: this stage publishes the upload words
        self._client = client
        self._spool = Spool(state.root / "spool")
        self._unsubmitted: dict[int, list[SpoolEntry]] = {}  # by ring position, until commit
        self.uploader: Uploader | None = None  # started by `recover`

    def recover(self, committed: int) -> Exported | None:
        """Finish the inner stage's recovery, spool its files, and start uploading whatever a
        dead writer left in the spool."""
        recovered = self.inner.recover(committed)
        if recovered is not None:
            self._spool_files(recovered.files)  # uploaded with the rest of the spool below
        settles = recovered.end if recovered is not None else committed
        pending = self._spool.pending()
        if not pending:
            self.ring.upload_settled = settles
        # else: files a dead writer committed but did not upload are not settled yet; a
        # producer's flush() waits until they are.
        self.uploader = Uploader(
            self.config,
            self._spool,
            on_settled=self._settled,
            on_failure=self._failed,
            client=self._client,
        )
        self.uploader.start(pending, settles=settles)
        return recovered

    def write_ahead(self, chunk: Mapping[str, PartitionBuffer]) -> None:
        self.inner.write_ahead(chunk)

    def export(self, batch: Batch) -> Exported:
        """The inner export, then a spool entry per file (before the engine commits)."""
        exported = self.inner.export(batch)
        self._unsubmitted[exported.end] = self._spool_files(exported.files)
        return exported

    def committed(self, exported: Exported) -> None:
        """Queue the commit's files for upload; with none, its position settles at once."""
        self.inner.committed(exported)
        entries = self._unsubmitted.pop(exported.end, None)
        if entries is not None and self.uploader is not None:
            self.uploader.submit(exported.end, entries)

    def close(self, timeout_s: float) -> bool:
        """Finish the uploads queued, for up to `timeout_s`; what is left stays spooled."""
        self.inner.close(timeout_s)
        if self.uploader is not None and not self.uploader.stop(timeout_s):
            log.warning("exiting with uploads still pending; the next writer resumes them")
            return False
        return True

    def _spool_files(self, files: list[Path]) -> list[SpoolEntry]:
        prefix = self.config.prefix
        log_dir = self.state.log_dir
        return self._spool.add_all(
            [(f, key_for(prefix, f.relative_to(log_dir).as_posix())) for f in files]
        )

    def _settled(self, end: int) -> None:
        """On the upload thread: every file up to `end` is uploaded or has failed for good."""
        self.ring.upload_settled = end

    def _failed(self) -> None:
        """On the upload thread: publish the failure's detail, then count it (producers'
        flush() sees the count and reads the detail to raise or warn)."""
        assert self.uploader is not None
        detail = self.uploader.counters.last_error
        try:
            if detail is not None:
                detail.write(self.state.upload_error)
        except OSError as exc:
            log.error("could not record the upload failure's detail: %s", exc)
        self.ring.upload_failures += 1
