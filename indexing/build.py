"""Index build: corpus -> staged JsonCollection + vectors -> Lucene BM25 + HNSW -> manifest.

The build happens in a hidden sibling directory and is renamed into place only when both
indexes and the manifest are complete, so a failed or killed build never leaves a half-written
index where a searcher would open it.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import gzip
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import IO, Any

import numpy as np
from tqdm import tqdm

from lucene_hybrid.core.errors import EncoderError, IndexBuildError, LuceneHybridError
from lucene_hybrid.core.manifest import (
    BM25_DIR,
    HNSW_DIR,
    Bm25Settings,
    HnswSettings,
    Manifest,
    write_manifest,
)
from lucene_hybrid.indexing import lucene_writer
from lucene_hybrid.indexing.corpus import (
    CorpusFormat,
    Document,
    JsonlFields,
    ReadStats,
    read_corpus,
)
from lucene_hybrid.indexing.encoders import (
    Encoder,
    EncoderSpec,
    check_vectors,
    load_encoder,
    stream,
)
from lucene_hybrid.indexing.encoders.stream import WINDOW_BATCHES, prefetch
from lucene_hybrid.indexing.lucene_store import LuceneStore

log = logging.getLogger(__name__)

SHARD_DOCS = 100_000  # docs per staged file: Anserini's indexer threads work a file each
ENCODE_WINDOW = 512  # docs per encode call at least; the encoder length-sorts inside it


@dataclass(frozen=True)
class BuildOptions:
    """What `lucene-hybrid index` was asked to build."""

    corpus: Path
    index: Path
    fmt: CorpusFormat | None = None
    fields: JsonlFields = field(default_factory=JsonlFields)
    skip_malformed: bool = False
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    bm25: Bm25Settings = field(default_factory=Bm25Settings)
    hnsw: HnswSettings = field(default_factory=HnswSettings)
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    batch_size: int | None = None  # None: the encoder's default for its device
    memory_mb: int = 512
    overwrite: bool = False
    progress: bool = True


@dataclass
class BuildReport:
    """Counts and per-stage timings of a finished build."""

    manifest: Manifest
    skipped_lines: list[tuple[int, str]]
    # The encode stage's time as shares (stream.Clock.shares; "other": between the encoder's
    # calls, reading ahead and writing). None when a local model did not encode.
    encode_split: dict[str, float] | None = None


def progress_bar(total: int | None, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar counting documents (a no-op when not enabled)."""
    return tqdm(total=total, desc=desc, unit="doc", disable=not enabled, dynamic_ncols=True)


class DocShards:
    """Writes jsonl lines into numbered gzip shards of at most SHARD_DOCS lines."""

    def __init__(self, folder: Path, stem: str):
        self.folder = folder
        self.stem = stem
        self.count = 0
        self.longest = 0  # characters in the longest line (its UTF-8 bytes are at most 4x)
        self._fh: IO[str] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, line: str) -> None:
        if self.count % SHARD_DOCS == 0:
            self.close()
            path = self.folder / f"{self.stem}-{self.count // SHARD_DOCS:05d}.jsonl.gz"
            self._fh = gzip.open(path, "wt", encoding="utf-8", compresslevel=1)  # noqa: SIM115
        assert self._fh is not None
        self._fh.write(line)
        self._fh.write("\n")
        self.count += 1
        self.longest = max(self.longest, len(line))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def vector_column(vectors: np.ndarray) -> Any:
    """Rows of ``vectors`` as an Arrow FixedSizeList<float32> column (the float32 bits as they
    are: Anserini's Parquet reader and Parquet files take them so)."""
    import pyarrow as pa

    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(
        pa.array(rows.ravel(), type=pa.float32()), rows.shape[1]
    )


def missing_vector(docid: str) -> EncoderError:
    """The error for a document without a vector in a build of precomputed vectors."""
    return EncoderError(f"document {docid!r} has no vector, but the encoder is 'precomputed'")


class VectorShards:
    """Writes (docid, vector) rows into numbered Parquet shards of at most SHARD_DOCS rows.

    Anserini's ParquetDenseVectorCollection reads them: the float32 bits go straight through,
    where jsonl staging cost two text conversions per float (Python formatting, Java parsing).
    """

    def __init__(self, folder: Path, stem: str):
        self.folder = folder
        self.stem = stem
        self.count = 0
        self._writer: Any = None
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, docids: Sequence[str], vectors: np.ndarray) -> None:
        """Append rows (``vectors[i]`` is ``docids[i]``'s), starting new shards as they fill."""
        import pyarrow as pa

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        done = 0
        while done < len(docids):
            if self.count % SHARD_DOCS == 0:
                self._open_shard(vectors.shape[1])
            take = min(len(docids) - done, SHARD_DOCS - self.count % SHARD_DOCS)
            table = pa.table(
                {
                    "docid": pa.array(docids[done : done + take], type=pa.string()),
                    "vector": vector_column(vectors[done : done + take]),
                }
            )
            self._writer.write_table(table)
            self.count += take
            done += take

    def _open_shard(self, dim: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.close()
        schema = pa.schema([("docid", pa.string()), ("vector", pa.list_(pa.float32(), dim))])
        path = self.folder / f"{self.stem}-{self.count // SHARD_DOCS:05d}.parquet"
        self._writer = pq.ParquetWriter(  # plain float32 bits: no dictionary, no compression
            path, schema, compression="none", use_dictionary=False, use_compliant_nested_type=True
        )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def stage_documents(
    docs: Iterable[Document], out: Path, opts: BuildOptions, dim: int | None
) -> tuple[int, int, int]:
    """Write the JsonCollection shards under ``out`` (and caller vectors, when precomputed:
    ``dim`` given): the build's read stage.

    Returns:
        (documents written, documents with metadata, characters in the longest line).
    """
    writer = DocShards(out / "docs", "docs")
    vec_writer = VectorShards(out / "vectors", "vectors") if dim is not None else None
    ids: list[str] = []
    vectors: list[Any] = []

    def flush() -> None:
        if vec_writer is not None and ids:
            assert dim is not None
            vec_writer.write(ids, check_vectors(np.asarray(vectors), dim, opts.encoder.normalize))
        ids.clear()
        vectors.clear()

    with_metadata = 0
    with progress_bar(None, "read", opts.progress) as bar:
        for doc in docs:
            record: dict[str, Any] = {"id": doc.docid, "contents": doc.text}
            if doc.metadata:
                record["metadata"] = doc.metadata
                with_metadata += 1
            writer.write(json.dumps(record, ensure_ascii=False))
            if vec_writer is not None:
                if doc.vector is None:
                    raise missing_vector(doc.docid)
                ids.append(doc.docid)
                vectors.append(doc.vector)
                if len(ids) >= ENCODE_WINDOW:
                    flush()
            bar.update(1)
    flush()
    writer.close()
    if vec_writer is not None:
        vec_writer.close()
    return writer.count, with_metadata, writer.longest


def _read_staged(folder: Path, longest: int) -> Iterator[tuple[str, str]]:
    """(docid, text) of the staged documents, parsed by Arrow with the GIL released.

    ``json.loads`` per line held the GIL ~6 us a document, as long as a GPU's forward of it
    on an H100; Arrow's parser leaves the GIL to the encoder's threads. Its blocks must hold
    the longest line (``longest`` characters: at most 4x as many UTF-8 bytes).
    """
    import pyarrow as pa
    import pyarrow.json as pj

    block = min(max(1 << 20, 4 * longest + 1), 2**31 - 1)
    schema = pa.schema([("id", pa.string()), ("contents", pa.string())])
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    for shard in sorted(folder.glob("*.jsonl.gz")):
        reader = pj.open_json(
            shard, read_options=pj.ReadOptions(block_size=block), parse_options=parse
        )
        for batch in reader:
            yield from zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)


def _windows(docs: Iterable[tuple[str, str]], size: int) -> Generator[list[tuple[str, str]]]:
    window: list[tuple[str, str]] = []
    for item in docs:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


def encode_to_shards(
    docs: Iterable[tuple[str, str]],
    encoder: Encoder,
    writer: VectorShards,
    bar: tqdm,
    *,
    read_ahead: bool = False,
) -> None:
    """Embed (docid, text) pairs a window at a time and write their vectors.

    A window is the encoder's ``call_size`` texts where it has one (a local model's: on a GPU
    many large batches), else WINDOW_BATCHES of its batches (an API's requests); ENCODE_WINDOW
    at least. A window's vectors are written in a background thread while the next window is
    encoded, and with ``read_ahead`` the next window is read in another (``docs`` must then be
    safe to iterate off the calling thread: not a JVM's), so a GPU does not wait on either.
    """
    size = int(getattr(encoder, "call_size", 0) or 0)
    size = size or WINDOW_BATCHES * int(getattr(encoder, "batch_size", 0) or 0)
    size = max(ENCODE_WINDOW, size)
    windows = _windows(docs, size)
    if read_ahead:
        windows = prefetch(windows, depth=1, name="read-ahead")
    writing: Future[None] | None = None
    with closing(windows), ThreadPoolExecutor(1, thread_name_prefix="vector-shards") as pool:
        for window in windows:
            vectors = encoder.encode_documents([text for _, text in window])
            if writing is not None:
                writing.result()  # the previous window's write, and any error it raised
            writing = pool.submit(writer.write, [docid for docid, _ in window], vectors)
            bar.update(len(window))
        if writing is not None:
            writing.result()


def encode_staged(
    staging: Path, encoder: Encoder, total: int, longest: int, *, progress: bool = False
) -> None:
    """Embed the documents ``stage_documents`` staged (``total`` of them, the longest line
    ``longest`` characters) in windows and write the vector shards: the build's encode stage."""
    writer = VectorShards(staging / "vectors", "vectors")
    with progress_bar(total, "encode", progress) as bar:
        docs = _read_staged(staging / "docs", longest)
        encode_to_shards(docs, encoder, writer, bar, read_ahead=True)
    writer.close()


def _index_thread(name: str, fn: Any, results: dict[str, Any]) -> threading.Thread:
    def target() -> None:
        start = time.perf_counter()
        try:
            results[name] = fn()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the caller
            results[name] = exc
        results[f"{name}_s"] = time.perf_counter() - start

    thread = threading.Thread(target=target, name=f"build-{name}", daemon=True)
    thread.start()
    return thread


def check_target(opts: BuildOptions) -> None:
    if opts.index.exists() and not opts.overwrite:
        raise IndexBuildError(
            f"{opts.index} already exists; pass --overwrite to replace it (the old index stays "
            "in place until the new one is complete)"
        )
    if opts.encoder.kind != "precomputed" and not opts.encoder.normalize:
        raise IndexBuildError(
            "Anserini's HNSW indexer scores by dot product over unit vectors; an encoder with "
            "normalize=false cannot be indexed. Use normalize=true (cosine similarity)."
        )


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            return False
        raise OSError(err, os.strerror(err), str(b))
    return True


def swap_into_place(tmp: Path, target: Path) -> None:
    """Put the finished build at ``target``: at every instant target is the old or new index."""
    if target.exists() and _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old index
        return
    old = None
    if target.exists():  # no atomic exchange here: a two-step swap that clean_leftovers heals
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(target: Path) -> None:
    """Remove what killed builds left beside ``target`` (and restore an index mid-swap)."""
    for path in target.parent.glob(f".{glob.escape(target.name)}.*-*"):
        kind, _, pid = path.name.rpartition("-")
        if not pid.isdigit() or _pid_alive(int(pid)):
            continue
        if kind.endswith(".old") and not target.exists():
            os.replace(path, target)  # killed between the two renames: the old index returns
            log.warning("restored %s from an interrupted swap", target)
        elif kind.endswith((".old", ".building")):
            shutil.rmtree(path, ignore_errors=True)
            log.info("removed %s, left by an interrupted build", path)


def build_index(opts: BuildOptions, encoder: Encoder | None = None) -> BuildReport:
    """Build the BM25 and HNSW indexes of a corpus into ``opts.index``.

    Args:
        opts: What to build and how.
        encoder: An already loaded encoder for ``opts.encoder`` (loaded here when None).

    Returns:
        The manifest written, and the malformed lines skipped (when asked to skip them).

    Raises:
        LuceneHybridError: for bad corpora, encoders or Lucene failures; nothing is left at
            ``opts.index`` unless the build completed.
    """
    opts.index.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(opts.index)
    check_target(opts)
    started = time.perf_counter()
    tmp = opts.index.with_name(f".{opts.index.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    staging = tmp / "staging"
    try:
        report = _build(opts, encoder, tmp, staging, started)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    swap_into_place(tmp, opts.index)
    return report


def _build(
    opts: BuildOptions, encoder: Encoder | None, tmp: Path, staging: Path, started: float
) -> BuildReport:
    precomputed = opts.encoder.kind == "precomputed"
    if encoder is None:
        kwargs = {} if precomputed or opts.batch_size is None else {"batch_size": opts.batch_size}
        encoder = load_encoder(opts.encoder, **kwargs)
    engine = lucene_writer.versions()  # starts the JVM now: fail before reading a large corpus

    stats = ReadStats()
    t0 = time.perf_counter()
    docs = read_corpus(
        opts.corpus,
        opts.fmt,
        fields=opts.fields,
        skip_malformed=opts.skip_malformed,
        stats=stats,
        unique_ids=True,
    )
    n_docs, n_meta, longest = stage_documents(
        docs, staging, opts, encoder.dim if precomputed else None
    )
    read_s = time.perf_counter() - t0
    if n_docs == 0:
        raise IndexBuildError(f"{opts.corpus}: no documents to index")

    t0 = time.perf_counter()
    clock = stream.Clock()
    encode_s = 0.0

    def encode() -> None:
        nonlocal encode_s
        # Encoding (torch) and BM25 indexing (Java threads) overlap: both release the GIL.
        with stream.clocked(encoder, clock):
            encode_staged(staging, encoder, n_docs, longest, progress=opts.progress)
        encode_s = time.perf_counter() - t0

    bm25, hnsw, timings = index_halves(
        staging, tmp, opts, n_docs, during_bm25=None if precomputed else encode
    )
    manifest = finish_index(
        tmp,
        opts,
        dim=encoder.dim,
        documents=(n_docs, n_meta),
        halves=(bm25, hnsw),
        skipped=len(stats.skipped),
        timings={"read_s": read_s, "encode_s": encode_s, **timings},
        started=started,
        engine=engine,
    )
    return BuildReport(manifest, stats.skipped, clock.shares(encode_s))


def _counted(
    bar: tqdm, half: str, report: Callable[[str, int], None] | None
) -> lucene_writer.Progress:
    """An indexer's progress callback: moves ``bar`` to the count, and tells ``report``."""

    def update(n: int) -> None:
        bar.update(n - bar.n)
        if report is not None:
            report(half, n)

    return update


def index_halves(
    staging: Path,
    out: Path,
    opts: BuildOptions,
    n_docs: int,
    *,
    during_bm25: Callable[[], None] | None = None,
    report: Callable[[str, int], None] | None = None,
) -> tuple[Any, Any, dict[str, float]]:
    """Index the staged documents (``staging/docs``) into BM25 and their vectors
    (``staging/vectors``) into HNSW, under ``out``: the build's Lucene stage.

    BM25 indexes in a thread of its own, beside ``during_bm25`` (the encode stage, which writes
    the vectors) when given, else beside the HNSW build. ``report``, when given, is told each
    half's documents indexed so far (``"bm25"`` or ``"hnsw"``, a count), from either thread.

    Returns:
        Anserini's counts of each half, and the seconds each took.
    """
    results: dict[str, Any] = {}
    bm25_bar = progress_bar(n_docs, "bm25 index", opts.progress and during_bm25 is None)
    bm25_thread = _index_thread(
        "bm25",
        lambda: lucene_writer.build_bm25(
            staging / "docs",
            out / BM25_DIR,
            threads=opts.threads,
            memory_mb=opts.memory_mb,
            progress=_counted(bm25_bar, "bm25", report),
        ),
        results,
    )

    def hnsw() -> Any:
        with progress_bar(n_docs, "hnsw index", opts.progress) as bar:
            return lucene_writer.build_hnsw(
                staging / "vectors",
                out / HNSW_DIR,
                M=opts.hnsw.M,
                ef_construction=opts.hnsw.ef_construction,
                quantization=opts.hnsw.quantization,
                threads=opts.threads,
                memory_mb=opts.memory_mb,
                progress=_counted(bar, "hnsw", report),
            )

    def timed_hnsw() -> tuple[Any, float]:
        t0 = time.perf_counter()
        return hnsw(), time.perf_counter() - t0

    try:
        if during_bm25 is not None:
            during_bm25()
        else:
            hnsw_result, hnsw_s = timed_hnsw()
    finally:
        # Also after a failure: nothing may write into ``out`` once the caller removes it.
        bm25_thread.join()
    bm25_bar.close()
    bm25 = results["bm25"]
    if isinstance(bm25, BaseException):
        raise bm25
    if during_bm25 is not None:  # the vectors are written now
        hnsw_result, hnsw_s = timed_hnsw()
    return bm25, hnsw_result, {"bm25_index_s": results["bm25_s"], "hnsw_index_s": hnsw_s}


def finish_index(
    out: Path,
    opts: BuildOptions,
    *,
    dim: int,
    documents: tuple[int, int],
    halves: tuple[Any, Any],
    skipped: int,
    timings: dict[str, float],
    started: float,
    engine: dict[str, str],
) -> Manifest:
    """Make the metadata filterable in both halves and write the manifest of the index built
    under ``out``: the build's last stage.

    Args:
        documents: The documents indexed, and how many of them carry metadata.
        halves: Anserini's counts of the BM25 and the HNSW half.
        skipped: Malformed lines skipped.
        timings: Seconds per stage so far (rounded here; the total is added).
        started: ``time.perf_counter()`` when the build began.
        engine: Lucene's and Anserini's versions (``lucene_writer.versions()``).
    """
    n_docs, n_meta = documents
    bm25, hnsw = halves
    if bm25.empty:
        log.warning("%d documents have no text: they are in the dense index only", bm25.empty)
    manifest = Manifest(
        name=opts.index.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        encoder=opts.encoder,
        dim=dim,
        bm25=opts.bm25,
        hnsw=opts.hnsw,
        documents=n_docs,
        counts={
            "bm25": bm25.indexed,
            "bm25_empty": bm25.empty,
            "dense": hnsw.indexed,
            "skipped_lines": skipped,
        },
        corpus={"path": str(opts.corpus.resolve()), "format": opts.fmt or "auto"},
        versions={
            "lucene_hybrid": pkg_version("lucene-hybrid"),
            "pyserini": pkg_version("pyserini"),
            **engine,
        },
        timings={k: round(v, 3) for k, v in timings.items()},
    )
    if n_meta:
        # Anserini stores metadata only inside the raw JSON: make it filterable in both halves.
        t0 = time.perf_counter()
        store = LuceneStore(out, manifest)
        try:
            store.backfill_metadata()
            store.commit()
        finally:
            store.close()
        manifest.timings["metadata_s"] = round(time.perf_counter() - t0, 3)
    manifest.timings["total_s"] = round(time.perf_counter() - started, 3)
    manifest.counts["with_metadata"] = n_meta
    write_manifest(out, manifest)
    return manifest


__all__ = ["BuildOptions", "BuildReport", "LuceneHybridError", "build_index"]
