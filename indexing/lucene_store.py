"""Lucene adapter for live writes: upserts and deletes on both halves of an index directory.

Both halves are opened with an IndexWriter in this JVM; the same handles serve near-real-time
searches (``server.lucene_search`` accepts them), so a refresh after a write makes it visible.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import IndexBuildError, ManifestError
from lucene_hybrid.core.manifest import BM25_DIR, HNSW_DIR, Manifest


def hit_columns(text: str) -> tuple[list[str], list[float]]:
    """The docids and scores of a hit list from ``io.lucenehybrid.Search`` (its ``hits``): the
    scores on one line, space-separated, then one docid per line; empty for no hits.

    Raises:
        ValueError: when the text is not such a list (a docid with a newline in it).
    """
    if not text:
        return [], []
    scores, _, ids = text.partition("\n")
    docids, values = ids.split("\n"), list(map(float, scores.split(" ")))
    if len(docids) != len(values):
        raise ValueError(f"{len(docids)} docids for {len(values)} scores (a docid with a newline?)")
    return docids, values


def read_vectors(handle: Any, field: str = "vector") -> tuple[int, list[str], np.ndarray, int]:
    """Every live document's id and vector in one Lucene index half, read at one point in time
    in one crossing (``Search.vectorSnapshot``): the reader's version, the ids, their vectors
    (count x dim float32) and the field's similarity ordinal (-1 when there is no vector)."""
    raw = jvm.Helpers.load().Search.vectorSnapshot(handle, field).tostring()
    version, count, dim, similarity, id_len = struct.unpack_from("<qiiii", raw)
    start = struct.calcsize("<qiiii")
    ids = raw[start : start + id_len].decode("utf-8").split("\n") if count else []
    # A copy: the floats sit at an arbitrary byte offset, and BLAS is slow on unaligned data.
    matrix = np.frombuffer(raw, "<f4", count * dim, start + id_len).astype(np.float32)
    return version, ids, matrix.reshape(count, dim), similarity


def file_sizes(index_half: Path) -> dict[str, int]:
    """Bytes per Lucene file of an index half's latest commit, the parts of compound files
    included (named as they would be on their own)."""
    listing = str(jvm.Helpers.load().Store.fileSizes(str(index_half)))
    return {name: int(size) for name, size in (line.split(" ") for line in listing.splitlines())}


class LuceneStore:
    """Writable BM25 + HNSW halves of one index directory (one writer each, one per process).

    ``create`` writes two new, empty halves; otherwise both must hold a committed index.

    Raises:
        ManifestError: when a half holds no committed index (without ``create``: a writer would
            make an empty one, and the index would lose half its documents).
        IndexBuildError: when Lucene cannot open a half (locked, corrupt, unreadable).
    """

    def __init__(self, index_dir: str | Path, manifest: Manifest, *, create: bool = False):
        java = jvm.Helpers.load()
        self._java = java
        self.index_dir = Path(index_dir)
        self.dim = manifest.dim
        if not create:
            for half in (self.index_dir / BM25_DIR, self.index_dir / HNSW_DIR):
                if not any(half.glob("segments_*")):
                    raise ManifestError(
                        f"{half} is missing or holds no Lucene index: the index is incomplete; "
                        "restore or rebuild it"
                    )
        try:
            analyzer = java.Analyzer.newDefaultInstance()
            self.bm25 = java.Index.openBm25Writer(str(self.index_dir / BM25_DIR), analyzer)
            try:
                h = manifest.hnsw
                self.hnsw = java.Index.openHnswWriter(
                    str(self.index_dir / HNSW_DIR), h.M, h.ef_construction, h.quantization
                )
            except Exception:
                java.Search.close(self.bm25)
                raise
        except Exception as exc:  # JavaException: locked, corrupt, unreadable
            raise IndexBuildError(jvm.open_failure(self.index_dir, exc)) from exc

    def upsert(
        self,
        ids: Sequence[str],
        contents: Sequence[str],
        metadata: Sequence[dict[str, Any]],
        vectors: np.ndarray,
    ) -> None:
        """Replace or add documents by id in both halves (visible after :meth:`refresh`)."""
        raws = [
            json.dumps({"id": i, "contents": c, "metadata": m}, ensure_ascii=False)
            for i, c, m in zip(ids, contents, metadata, strict=True)
        ]
        metas = [json.dumps(m, ensure_ascii=False) if m else "" for m in metadata]
        data = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
        self._java.Store.upsert(
            self.bm25, self.hnsw, list(ids), list(contents), raws, metas, data, self.dim
        )

    def delete(self, ids: Sequence[str]) -> None:
        """Delete documents by id from both halves (visible after :meth:`refresh`)."""
        self._java.Store.delete(self.bm25, self.hnsw, list(ids))

    def delete_by_filter(self, filter_json: str | None) -> None:
        """Delete every document matching a metadata filter (None: all) from both halves."""
        self._java.Store.deleteByFilter(self.bm25, self.hnsw, filter_json)

    def refresh(self) -> None:
        """Reopen the searchers so the next search sees every applied write."""
        self._java.Store.refresh(self.bm25)
        self._java.Store.refresh(self.hnsw)

    def commit(self) -> None:
        """Fsync both halves: applied writes survive a crash from here on."""
        self._java.Store.commit(self.bm25)
        self._java.Store.commit(self.hnsw)

    def rollback(self) -> None:
        """Discard every change since the last commit and close both halves (reopen after)."""
        try:
            self._java.Store.rollback(self.bm25)
        finally:
            self._java.Store.rollback(self.hnsw)

    def backfill_metadata(self) -> int:
        """Make metadata stored by Anserini's batch indexers filterable; returns docs rewritten."""
        return int(self._java.Store.backfillMetadata(self.bm25, self.hnsw))

    def close(self) -> None:
        """Close both writers (without committing: commit first to keep applied writes)."""
        try:
            self._java.Search.close(self.bm25)
        finally:
            self._java.Search.close(self.hnsw)


def check_index(path: str | Path) -> str:
    """Run Lucene's CheckIndex on one index folder: "clean", or its report of the damage."""
    return str(jvm.Helpers.load().Store.checkIndex(str(path)))
