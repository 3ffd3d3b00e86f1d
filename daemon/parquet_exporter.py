"""The Parquet stage: records become part files, published atomically through the commit journal.

One part file per partition and flush. Records taken ahead of a flush (`write_ahead`) become
row groups of their partition's file while producers are still publishing; the flush then
writes the rest, the footer and fsyncs, journals the files, and renames them into place (see
`journal` for why a crash between any two steps loses and repeats nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from parquet_logger.transport.statedir import StateDir, fsync_dir

from . import journal, partfile
from .exporter import Batch, Exported, PartitionBuffer
from .status import Counters
from .tables import partition_table

log = logging.getLogger("parquet_logger_daemon")


class ParquetExporter:
    """Part files under the log directory, and the journal that makes their commit atomic."""

    def __init__(self, state: StateDir, ring_id: int, counters: Counters) -> None:
        self.state = state
        self.counters = counters  # invalid_records and files_written are counted here
        self._ring_id = ring_id  # a journal entry of another ring is not ours to finish
        self._namer = partfile.PartNamer()
        self._open: dict[str, partfile.PartWriter] = {}  # files in the making, by partition

    def recover(self, committed: int) -> Exported | None:
        """Finish a commit that a crashed writer journalled, then drop its stray .tmp files."""
        entry = journal.read(self.state.journal)
        recovered = None
        if entry is not None and entry.ring_id == self._ring_id and entry.end > committed:
            for tmp, final in entry.files:
                partfile.publish(Path(tmp), Path(final))
            for folder in {Path(final).parent for _, final in entry.files}:
                fsync_dir(folder)
            recovered = Exported(entry.end, [Path(final) for _, final in entry.files], 0)
            log.info("finished an interrupted commit up to %d", entry.end)
        for stale in partfile.stale_tmp_files(self.state.log_dir):
            stale.unlink(missing_ok=True)
            log.info("removed %s left by a crashed writer", stale)
        return recovered

    def write_ahead(self, chunk: Mapping[str, PartitionBuffer]) -> None:
        """Write each partition's records as a row group of its part file now, so that a
        producer waiting in flush() then waits for little more than the last chunk, the
        footer and fsync."""
        try:
            for partition, buf in chunk.items():
                self._append(partition, buf)
        except OSError:
            self._abort()
            raise

    def export(self, batch: Batch) -> Exported:
        """Finish every partition's part file, journal them, and rename them into place."""
        try:
            for partition, buf in batch.partitions.items():
                if buf.metas:
                    self._append(partition, buf)
            files = list(self._open.values())
            for part in files:
                part.finish()
            if files:
                entry = journal.JournalEntry(
                    self._ring_id, batch.end, [(str(f.tmp), str(f.final)) for f in files]
                )
                journal.write(self.state.journal, entry)
        except BaseException:
            self._abort()
            raise
        self._open = {}
        for part in files:
            partfile.publish(part.tmp, part.final)
        for folder in {part.final.parent for part in files}:
            fsync_dir(folder)
        self.counters.files_written += len(files)
        return Exported(batch.end, [part.final for part in files], sum(f.rows for f in files))

    def committed(self, exported: Exported) -> None:
        """Nothing follows the commit here: the files are already in place."""

    def close(self, timeout_s: float) -> bool:
        """Drop part files still in the making (their records stay in the ring)."""
        self._abort()
        return True

    def _append(self, partition: str, buf: PartitionBuffer) -> None:
        """The partition's records as one row group of its part file (opened on first use)."""
        table, malformed = partition_table(partition, buf.metas, buf.payloads)
        if malformed:
            self.counters.invalid_records += 1
        part = self._open.get(partition)
        if part is None:
            folder = partfile.partition_folder(self.state.log_dir, partition)
            final = folder / self._namer.next_name()
            part = self._open[partition] = partfile.PartWriter(final, table.schema)
        part.write(table)

    def _abort(self) -> None:
        """Remove every part file in the making; their records are read again from the ring."""
        for part in self._open.values():
            part.abort()
        self._open = {}
