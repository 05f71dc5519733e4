"""The corpus as a Ray Data source: a read task per run of chunks (``cluster/build.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from lucene_hybrid.cluster.build import Chunk, ReadPlan, read_chunks


class ChunkSource(Datasource):  # type: ignore[misc]
    """The chunks of a corpus file not staged yet, read by up to ``readers`` tasks, each a
    contiguous run of chunks (a gzip file: one task, which reads it through)."""

    def __init__(self, plan: ReadPlan, chunks: Sequence[Chunk], readers: int):
        self.plan = plan
        self.chunks = list(chunks)
        self.readers = max(1, readers)

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        n = max(1, min(self.readers, len(self.chunks)))
        runs = [
            self.chunks[i * len(self.chunks) // n : (i + 1) * len(self.chunks) // n]
            for i in range(n)
        ]
        return [
            ReadTask(
                partial(read_chunks, self.plan, run),
                BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None),
            )
            for run in runs
            if run
        ]
