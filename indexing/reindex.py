"""Re-encode an existing index with another encoder, without the corpus, and switch atomically.

The documents come from the index itself (ids from the HNSW half, text and metadata from the
raw JSON the BM25 half stores). The new index is assembled in a hidden sibling directory: the
BM25 half hard-linked (Lucene's files are write-once), a new HNSW half built by Anserini from
the new vectors, metadata made filterable, a manifest naming the new encoder. Only then is it
exchanged with the old directory in one atomic rename, so a searcher opening the index sees
either the old encoder's index or the new one, never a mix. The old index is held locked
(Lucene's write lock on both halves) for the whole run, so no writer changes it underneath.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import IndexBuildError
from lucene_hybrid.core.manifest import (
    BM25_DIR,
    HNSW_DIR,
    MANIFEST,
    WAL_FILE,
    HnswSettings,
    Manifest,
    read_manifest,
    write_manifest,
)
from lucene_hybrid.indexing import lucene_writer
from lucene_hybrid.indexing.build import (
    VectorShards,
    clean_leftovers,
    encode_to_shards,
    progress_bar,
    swap_into_place,
)
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec, load_encoder
from lucene_hybrid.indexing.lucene_store import LuceneStore, hit_columns, read_vectors

log = logging.getLogger(__name__)

RAW_BATCH = 1_000  # ids per stored-document lookup


@dataclass(frozen=True)
class StoredDocument:
    """One document as the index holds it."""

    docid: str
    text: str
    metadata: dict[str, Any]


def iter_documents(bm25: Any, hnsw: Any) -> Iterator[StoredDocument]:
    """Every live document of an index, in the HNSW half's order.

    Args:
        bm25, hnsw: Open Java handles of the two halves (a writer's or read-only).

    A document with no text (indexed in the dense half only) comes back with ``text == ""``.
    """
    java = jvm.Helpers.load()
    n = int(java.Search.numDocs(hnsw))
    if n == 0:
        return
    ids, _ = hit_columns(str(java.Search.filterIds(hnsw, None, n)))
    for start in range(0, len(ids), RAW_BATCH):
        batch = ids[start : start + RAW_BATCH]
        for docid, raw in zip(batch, java.Search.raw(bm25, batch), strict=True):
            record = json.loads(raw) if raw else {}
            meta = record.get("metadata")
            yield StoredDocument(
                docid, record.get("contents") or "", meta if isinstance(meta, dict) else {}
            )


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a Lucene index folder (copy where links are impossible); no write.lock."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name == "write.lock" or not f.is_file():
            continue
        try:
            os.link(f, dst / f.name)
        except OSError:
            shutil.copy2(f, dst / f.name)


def _check_wal(index: Path) -> None:
    wal = index / WAL_FILE
    if wal.exists() and wal.stat().st_size > 0:
        raise IndexBuildError(
            f"{index} has writes in its log ({WAL_FILE}) not yet in Lucene (the server stopped "
            "without closing it): start and stop `lucene-hybrid serve` on it once, then reindex"
        )


def reindex(
    index: Path,
    spec: EncoderSpec,
    *,
    encoder: Encoder | None = None,
    hnsw: HnswSettings | None = None,
    batch_size: int | None = None,
    threads: int = os.cpu_count() or 1,
    memory_mb: int = 512,
    progress: bool = True,
) -> Manifest:
    """Re-encode every document of ``index`` with ``spec`` and switch the index over to it
    (its HNSW half built with ``hnsw``'s settings when given, else with the index's own).

    Raises:
        IndexBuildError: when the index is in use by a server, has unreplayed writes, or
            holds a document without text while the new encoder needs text. The old index is
            untouched unless the whole new one is complete.
        EncoderError: when the new encoder cannot be loaded.
    """
    index = Path(index)
    clean_leftovers(index)
    old = read_manifest(index)
    if spec.kind == "precomputed":
        raise IndexBuildError("reindex needs a model to encode with, not 'precomputed'")
    if not spec.normalize:
        raise IndexBuildError("the HNSW index scores by dot product: the encoder must normalize")
    _check_wal(index)
    if encoder is None:
        encoder = load_encoder(spec, **({} if batch_size is None else {"batch_size": batch_size}))
    return _switch(
        index,
        old,
        lambda tmp, store: _assemble(
            index, tmp, old, spec, encoder, hnsw or old.hnsw, store, threads, memory_mb, progress
        ),
    )


def requantize(
    index: Path,
    quantization: str,
    *,
    oversample: float | None = None,
    threads: int = os.cpu_count() or 1,
    memory_mb: int = 512,
    progress: bool = True,
) -> Manifest:
    """Rebuild the HNSW half of ``index`` in another vectors format (``HnswSettings``) from
    the vectors it stores, without encoding anything, and switch to it atomically.

    Raises:
        IndexBuildError: as :func:`reindex`: in use, unreplayed writes, or empty.
    """
    index = Path(index)
    clean_leftovers(index)
    old = read_manifest(index)
    _check_wal(index)
    hnsw = requantized(old.hnsw, quantization, oversample)

    def assemble(tmp: Path, store: LuceneStore) -> Manifest:
        _, ids, vectors, _ = read_vectors(store.hnsw, old.hnsw.field)
        if not ids:
            raise IndexBuildError(f"{index} holds no vectors to index")
        writer = VectorShards(tmp / "staging", "vectors")
        writer.write(ids, vectors)
        writer.close()
        del vectors
        manifest = old.model_copy(deep=True, update={"hnsw": hnsw})
        hnsw_s = _build_hnsw_half(tmp, manifest, writer.count, threads, memory_mb, progress)[1]
        manifest.timings = {"hnsw_index_s": round(hnsw_s, 3)}
        _backfill_metadata(tmp, manifest)
        return manifest

    return _switch(index, old, assemble)


def requantized(
    hnsw: HnswSettings, quantization: str | None, oversample: float | None
) -> HnswSettings:
    """``hnsw`` with another vectors format and oversampling (validated; None keeps one)."""
    update = {"quantization": quantization, "oversample": oversample}
    return HnswSettings.model_validate(
        hnsw.model_dump() | {k: v for k, v in update.items() if v is not None}
    )


def _switch(
    index: Path, old: Manifest, assemble: Callable[[Path, LuceneStore], Manifest]
) -> Manifest:
    """Lock ``index``, assemble its replacement in a hidden sibling, then rename it into place."""
    started = time.perf_counter()
    try:
        store = LuceneStore(index, old)  # holds both write locks until the switch
    except IndexBuildError as exc:
        raise IndexBuildError(
            f"{exc}. Is a server serving it? Stop it (or remove the collection) first."
        ) from exc
    tmp = index.with_name(f".{index.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _link_tree(index / BM25_DIR, tmp / BM25_DIR)
        for f in index.iterdir():  # anything else a collection keeps beside its halves
            if f.is_file() and f.name not in (MANIFEST, WAL_FILE):
                shutil.copy2(f, tmp / f.name)
        manifest = assemble(tmp, store)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        store.close()
        raise
    manifest.timings["total_s"] = round(time.perf_counter() - started, 3)
    write_manifest(tmp, manifest)
    store.close()
    swap_into_place(tmp, index)
    return manifest


def _build_hnsw_half(
    tmp: Path, manifest: Manifest, count: int, threads: int, memory_mb: int, progress: bool
) -> tuple[int, float]:
    """Anserini's HNSW build over ``tmp/staging``: (documents indexed, seconds)."""
    t0 = time.perf_counter()
    with progress_bar(count, "hnsw index", progress) as hbar:
        counts = lucene_writer.build_hnsw(
            tmp / "staging",
            tmp / HNSW_DIR,
            M=manifest.hnsw.M,
            ef_construction=manifest.hnsw.ef_construction,
            quantization=manifest.hnsw.quantization,
            threads=threads,
            memory_mb=memory_mb,
            progress=lambda k: hbar.update(k - hbar.n),
        )
    shutil.rmtree(tmp / "staging")
    return counts.indexed, time.perf_counter() - t0


def _backfill_metadata(tmp: Path, manifest: Manifest) -> None:
    """Make metadata filterable in the new HNSW half: Anserini's indexer stores none."""
    new = LuceneStore(tmp, manifest)
    try:
        new.backfill_metadata()
        new.commit()
    finally:
        new.close()


def _assemble(
    index: Path,
    tmp: Path,
    old: Manifest,
    spec: EncoderSpec,
    encoder: Encoder,
    hnsw: HnswSettings,
    store: LuceneStore,
    threads: int,
    memory_mb: int,
    progress: bool,
) -> Manifest:
    writer = VectorShards(tmp / "staging", "vectors")
    n = int(jvm.Helpers.load().Search.numDocs(store.hnsw))
    t0 = time.perf_counter()
    with_metadata = 0

    def texts() -> Iterator[tuple[str, str]]:
        nonlocal with_metadata
        for doc in iter_documents(store.bm25, store.hnsw):
            if not doc.text and old.encoder.kind == "precomputed":
                raise IndexBuildError(
                    f"document {doc.docid!r} has a caller-supplied vector and no text: "
                    "there is nothing for the new encoder to encode"
                )
            with_metadata += bool(doc.metadata)
            yield doc.docid, doc.text

    with progress_bar(n, "encode", progress) as bar:
        encode_to_shards(texts(), encoder, writer, bar)
    writer.close()
    encode_s = time.perf_counter() - t0
    if writer.count == 0:
        raise IndexBuildError(f"{index} holds no documents to re-encode")

    manifest = old.model_copy(
        deep=True,
        update={
            "encoder": spec,
            "dim": encoder.dim,
            "hnsw": hnsw,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    manifest.counts["dense"], hnsw_s = _build_hnsw_half(
        tmp, manifest, writer.count, threads, memory_mb, progress
    )
    manifest.timings = {"encode_s": round(encode_s, 3), "hnsw_index_s": round(hnsw_s, 3)}
    history = list(getattr(old, "reindexed", None) or [])
    history.append(
        {
            "at": manifest.created_at,
            "from_encoder": old.encoder.model_dump(exclude_defaults=True),
            "from_dim": old.dim,
            "documents": writer.count,
        }
    )
    manifest.reindexed = history  # type: ignore[attr-defined]  # Manifest allows extras
    if with_metadata:
        _backfill_metadata(tmp, manifest)
    return manifest
