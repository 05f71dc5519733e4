"""A write-ahead log per collection: every acknowledged batch is on disk before it is applied.

Records are JSON lines, fsynced on append. After Lucene commits both halves the log is
truncated; on open, records still in the log are replayed (upserts and deletes by id are
idempotent). A torn last line (a crash mid-append, never acknowledged) is dropped, so a batch
is either wholly replayed or wholly absent.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class WriteAheadLog:
    """Append-only JSON-lines log with fsync, replay and truncate."""

    def __init__(self, path: Path):
        self.path = path
        self.records = 0
        self._fh = open(path, "ab")  # noqa: SIM115 - held open for the collection's lifetime

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and fsync it; raises OSError (disk full, read-only) untouched."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        start = self._fh.tell()
        try:
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError:
            # Leave no partial record behind for the next append to run into.
            self._fh.truncate(start)
            raise
        self.records += 1

    def tell(self) -> int:
        """The log's current length: pass it to :meth:`truncate_to` to undo later appends."""
        return self._fh.seek(0, os.SEEK_END)

    def truncate_to(self, offset: int) -> None:
        """Drop everything after ``offset`` (a record whose batch failed to apply)."""
        self._fh.truncate(offset)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records = max(self.records - 1, 0)

    def still_linked(self) -> bool:
        """False when the log file was deleted or replaced under us (its directory removed)."""
        try:
            return os.path.samestat(os.fstat(self._fh.fileno()), os.stat(self.path))
        except FileNotFoundError:
            return False

    def replay(self) -> Iterator[dict[str, Any]]:
        """Records in order; a torn final line is skipped (it was never acknowledged)."""
        with open(self.path, "rb") as fh:
            lines = fh.read().split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        if tail:
            log.warning("%s: dropping a torn final record (%d bytes)", self.path, len(tail))
        for n, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                if n == len(complete):
                    log.warning("%s: dropping an unreadable final record", self.path)
                    return
                raise

    def truncate(self) -> None:
        """Empty the log (after a Lucene commit made its records durable)."""
        self._fh.truncate(0)
        self._fh.seek(0)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records = 0

    def close(self) -> None:
        self._fh.close()
