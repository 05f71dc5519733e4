"""Lucene adapter for the write path: Anserini's IndexCollection and IndexHnswDenseVectors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import IndexBuildError

Progress = Callable[[int], None]

# pyjnius binds an instance method to its object for the length of a call, on a method object
# shared by every instance of the class (kivy/pyjnius#287, #563): two threads reading their own
# indexer's counters (a sharded build's BM25 and HNSW halves, side by side) can leave one call
# with no object, a NullPointerException. Counter reads take turns.
_COUNTER_READS = threading.Lock()


def _read(counters: Any, *names: str) -> int:
    """The sum of the named counters (Anserini's ``Counters`` fields, AtomicLongs)."""
    with _COUNTER_READS:
        return sum(int(getattr(counters, name).get()) for name in names)


@dataclass(frozen=True)
class IndexerCounts:
    """Anserini's counters after a run, as plain ints."""

    indexed: int
    empty: int
    skipped: int
    errors: int


def _run_with_progress(
    indexer: Any, progress: Progress | None, every: float = 0.5
) -> IndexerCounts:
    """Run an Anserini indexer (Java threads; the GIL is released) while polling its counters."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            indexer.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)
        finally:
            from jnius import detach

            detach()

    worker = threading.Thread(target=target, name="anserini-indexer", daemon=True)
    worker.start()
    counters = indexer.getCounters()
    while worker.is_alive():
        worker.join(every)
        if progress:
            progress(_read(counters, "indexed"))
    if failure:
        raise IndexBuildError(f"Lucene indexing failed: {failure[0]}") from failure[0]
    counts = IndexerCounts(
        indexed=_read(counters, "indexed"),
        empty=_read(counters, "empty"),
        skipped=_read(counters, "skipped", "unindexable"),
        errors=_read(counters, "errors"),
    )
    if counts.errors:
        raise IndexBuildError(f"Lucene indexing reported {counts.errors} errors; see the log above")
    return counts


def build_bm25(
    input_dir: Path,
    index_dir: Path,
    *,
    threads: int,
    memory_mb: int = 512,
    progress: Progress | None = None,
) -> IndexerCounts:
    """Build the inverted index from a folder of Pyserini JsonCollection files.

    The ``contents`` field is analyzed with Anserini's default English analyzer; the raw JSON of
    each document (id, contents, metadata) is stored for display.
    """
    args = jvm.jclass("io.anserini.index.IndexCollection$Args")()
    args.input = str(input_dir)
    args.index = str(index_dir)
    args.collectionClass = "JsonCollection"
    args.generatorClass = "DefaultLuceneDocumentGenerator"
    args.threads = threads
    args.memoryBuffer = memory_mb
    args.storeRaw = True
    args.uniqueDocid = True
    args.optimize = True
    args.quiet = True
    indexer = jvm.jclass("io.anserini.index.IndexCollection")(args)
    return _run_with_progress(indexer, progress)


def build_hnsw(
    input_dir: Path,
    index_dir: Path,
    *,
    M: int,  # noqa: N803 - Lucene's name
    ef_construction: int,
    quantization: str,
    threads: int,
    memory_mb: int = 512,
    progress: Progress | None = None,
) -> IndexerCounts:
    """Build the HNSW vector index from a folder of Parquet files (``docid``, ``vector``), in
    the vectors format ``quantization`` names (see ``HnswSettings``)."""
    args = jvm.jclass("io.anserini.index.IndexHnswDenseVectors$Args")()
    args.input = str(input_dir)
    args.index = str(index_dir)
    args.collectionClass = "ParquetDenseVectorCollection"
    args.generatorClass = "DenseVectorDocumentGenerator"
    args.M = M
    args.efC = ef_construction
    args.threads = threads
    args.memoryBuffer = memory_mb
    args.uniqueDocid = True
    args.quiet = True
    # Anserini's collection readers and threads, writing the format the collection asked for.
    indexer = jvm.jclass("io.lucenehybrid.HnswIndexer")(args, quantization)
    return _run_with_progress(indexer, progress)


def versions() -> dict[str, str]:
    """Lucene, Anserini and Java versions of the running JVM, for the manifest."""
    runtime = jvm.start()
    lucene = jvm.jclass("org.apache.lucene.util.Version").LATEST.toString()
    return {
        "lucene": lucene,
        "anserini_jar": jvm.anserini_jar().name,
        "java": runtime.version,
    }
