"""Build a sharded collection on a Ray cluster: ``lucene-hybrid index CORPUS --index DIR
--shards N --ray [ADDRESS]``.

The output is what ``serve --ray`` opens: ``cluster.json`` and one ordinary index folder per
shard (``shard-000``, ...), document ``id`` in shard ``shard_of(id, N)`` (``core/sharding.py``).

1. **Plan.** One pass over the corpus file cuts it into chunks of ``chunk_lines`` lines (or
   CHUNK_BYTES, whichever comes first), remembering where each starts.
2. **Read and encode** (Ray Data). Read tasks parse chunks with the single-process reader's own
   code (the same ``file:line: reason`` errors, the same ``--skip-malformed``); a pool of
   encoder actors (one per GPU, else one per node) embeds each chunk and writes it to the
   staging folder, one Parquet file per shard, renamed into place whole.
3. **Index** (Ray tasks, side by side). Each shard's parts are staged as the single-process
   build stages a corpus, and indexed by the same code (BM25 beside HNSW, metadata, manifest).
4. **Assemble.** ``cluster.json`` and the shards go into a hidden folder, swapped into place in
   one step: an interrupted build never leaves a half-written collection under its name.

The staging folder (``.NAME.staging`` beside the collection) outlives a failed or killed build:
``resume=True`` continues it, reading and encoding only the chunks not staged yet and building
only the shards not built yet. Every node must see the corpus, the staging folder and the
collection at the same paths (one machine, or a shared filesystem).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.cluster.collection import NO_SIGNAL_HANDLER, ClusterSpec, import_ray
from lucene_hybrid.cluster.serving import connect_ray
from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import IndexBuildError, LuceneHybridError
from lucene_hybrid.core.sharding import CLUSTER_FILE, SHARD_DIR, shard_of
from lucene_hybrid.core.text import is_gzip, readable
from lucene_hybrid.indexing import lucene_writer
from lucene_hybrid.indexing.build import (
    BuildOptions,
    DocShards,
    VectorShards,
    check_target,
    clean_leftovers,
    finish_index,
    index_halves,
    missing_vector,
    progress_bar,
    swap_into_place,
    vector_column,
)
from lucene_hybrid.indexing.corpus import (
    CorpusFormat,
    JsonlFields,
    ReadStats,
    detect_format,
    duplicate_id,
    malformed,
    parse_lines,
)
from lucene_hybrid.indexing.encoders import EncoderSpec, check_vectors, load_encoder

log = logging.getLogger(__name__)

CHUNK_LINES = 5_000  # lines per chunk: the unit of encoding, staging, progress and resumption
CHUNK_BYTES = 32 << 20  # a chunk ends early past this many bytes (one block for Ray Data)
STAGED = "build.json"  # in the staging folder: what it is a build of (resume checks it)
# The build's workers: no Ray signal handler beside a JVM, no progress bars of their own.
WORKER_ENV = {**NO_SIGNAL_HANDLER, "TQDM_DISABLE": "1"}
# A Ray started for one build on this machine: on loopback only, reachable by nobody else.
PRIVATE_RAY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


@dataclass(frozen=True)
class Chunk:
    """A stretch of the corpus file: ``lines`` lines from line ``first_line`` (1-based), which
    starts ``offset`` bytes into the (uncompressed) file."""

    index: int
    first_line: int
    lines: int
    offset: int


def plan_chunks(path: Path, chunk_lines: int = CHUNK_LINES) -> list[Chunk]:
    """Cut the corpus file into chunks of ``chunk_lines`` lines or CHUNK_BYTES bytes."""
    chunks: list[Chunk] = []
    opener = gzip.open if is_gzip(path) else open
    first, lines, size, offset = 1, 0, 0, 0
    with readable(path), opener(path, "rb") as fh:
        for raw in fh:
            lines += 1
            size += len(raw)
            if lines >= chunk_lines or size >= CHUNK_BYTES:
                chunks.append(Chunk(len(chunks), first, lines, offset))
                first, lines, offset, size = first + lines, 0, offset + size, 0
    if lines:
        chunks.append(Chunk(len(chunks), first, lines, offset))
    return chunks


@dataclass(frozen=True)
class Staging:
    """The staging folder of a build: encoded chunks (``parts/c000042/s001.parquet``: chunk
    42's documents of shard 1), malformed lines skipped per chunk, and built shards."""

    root: Path

    def chunk(self, index: int) -> Path:
        return self.root / "parts" / f"c{index:06d}"

    def skipped(self, index: int) -> Path:
        return self.root / "skipped" / f"c{index:06d}.json"

    def built(self, shard: int) -> Path:
        return self.root / "built" / SHARD_DIR.format(shard)

    def parts(self, shard: int) -> list[Path]:
        """Shard ``shard``'s parts of every staged chunk, in corpus order."""
        return sorted((self.root / "parts").glob(f"c*/s{shard:03d}.parquet"))

    def summary(self, shard: int) -> Path:
        """What building shard ``shard`` made (:class:`ShardBuilt`), written once it is built."""
        return self.root / "built" / f"{SHARD_DIR.format(shard)}.json"

    def progress(self, shard: int) -> Path:
        """How far building shard ``shard`` is (:class:`ShardProgress`), while it builds."""
        return self.root / "progress" / f"{SHARD_DIR.format(shard)}.json"

    def done(self, index: int) -> bool:
        return self.chunk(index).is_dir()

    def publish(self, tmp: Path, final: Path) -> None:
        """Rename a finished ``tmp`` folder to ``final``; a copy already there (a retried task
        finished first) wins and ``tmp`` is dropped."""
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)

    def scratch(self, name: str) -> Path:
        """A fresh folder for work that ``publish`` renames into place when whole."""
        path = self.root / "tmp" / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path


@dataclass(frozen=True)
class ReadPlan:
    """What a read task needs: where the corpus is, how to parse it, where chunks go."""

    corpus: Path
    fmt: CorpusFormat
    fields: JsonlFields
    skip_malformed: bool
    encoder: EncoderSpec
    staging: Path


def read_chunks(plan: ReadPlan, chunks: Sequence[Chunk]) -> Iterator[Any]:
    """The documents of each chunk not staged yet, a chunk per row (``_one_row``) of a table of
    id, contents, metadata (JSON), line, and vector for precomputed encoders."""
    import pyarrow as pa

    staging = Staging(plan.staging)
    precomputed = plan.encoder.kind == "precomputed"
    gz = is_gzip(plan.corpus)
    opener = gzip.open if gz else open
    with readable(plan.corpus), opener(plan.corpus, "rb") as fh:
        at_line = 1  # the next line fh gives (a gzip stream is read through, never seeked)
        for chunk in chunks:
            if staging.done(chunk.index):
                continue
            if gz:
                while at_line < chunk.first_line:
                    fh.readline()
                    at_line += 1
            else:
                fh.seek(chunk.offset)
            raw = [(chunk.first_line + i, fh.readline()) for i in range(chunk.lines)]
            at_line = chunk.first_line + chunk.lines
            stats = ReadStats()
            parsed = list(
                parse_lines(
                    plan.corpus,
                    raw,
                    plan.fmt,
                    plan.fields,
                    skip_malformed=plan.skip_malformed,
                    stats=stats,
                )
            )
            docs = [doc for _, doc in parsed]
            if stats.skipped:
                _write_json(staging.skipped(chunk.index), stats.skipped)
            if not docs:  # nothing to encode: staged as an empty chunk
                staging.publish(staging.scratch("empty"), staging.chunk(chunk.index))
                continue
            columns: dict[str, Any] = {
                "id": pa.array([d.docid for d in docs], pa.string()),
                "contents": pa.array([d.text for d in docs], pa.string()),
                "metadata": pa.array(
                    [
                        json.dumps(d.metadata, ensure_ascii=False) if d.metadata else None
                        for d in docs
                    ],
                    pa.string(),
                ),
                "line": pa.array([lineno for lineno, _ in parsed], pa.int64()),
            }
            if precomputed:
                for d in docs:
                    if d.vector is None:
                        raise missing_vector(d.docid)
                vectors = check_vectors(
                    np.asarray([d.vector for d in docs]),
                    int(plan.encoder.dim or 0),
                    plan.encoder.normalize,
                )
                columns["vector"] = vector_column(vectors)
            yield _one_row(chunk.index, pa.table(columns))


def _one_row(index: int, table: Any) -> Any:
    """A chunk's documents as one row (its index, and the table in Arrow's stream format):
    Ray Data may join or cut blocks as it likes, but never a row, so a chunk reaches one
    encoder whole and is staged whole."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pa.table(
        {
            "chunk": pa.array([index], pa.int64()),
            "docs": pa.array([sink.getvalue().to_pybytes()], pa.large_binary()),
        }
    )


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)


class EncodeChunks:
    """An encoder actor of Ray Data's pool: embeds whole chunks and stages them by shard."""

    def __init__(
        self,
        spec: EncoderSpec,
        staging: str,
        shards: int,
        batch_size: int | None,
        threads: int | None,
    ):
        kwargs = {"batch_size": batch_size} if batch_size and spec.kind != "precomputed" else {}
        if threads and spec.kind == "hf":
            import torch

            torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the actor's num_cpus
        self.encoder = load_encoder(spec, **kwargs)
        self.staging = Staging(Path(staging))
        self.shards = shards

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:
        """Encode and stage every chunk in ``batch`` (rows of ``_one_row``); a row back per
        chunk: its index and its documents per shard (JSON), for the driver's progress."""
        import pyarrow as pa

        out: dict[str, list[Any]] = {"chunk": [], "per_shard": []}
        for index, blob in zip(
            batch.column("chunk").to_pylist(), batch.column("docs").to_pylist(), strict=True
        ):
            part = pa.ipc.open_stream(blob).read_all()
            if "vector" in part.column_names:
                vectors = _vectors_of(part.column("vector"))
            else:
                texts = part.column("contents").to_pylist()
                vectors = np.asarray(self.encoder.encode_documents(texts), dtype=np.float32)
            out["chunk"].append(index)
            out["per_shard"].append(json.dumps(self._stage(index, part, vectors)))
        return {k: np.asarray(v) for k, v in out.items()}

    def _stage(self, index: int, part: Any, vectors: np.ndarray) -> dict[int, int]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids = part.column("id").to_pylist()
        which = np.fromiter((shard_of(i, self.shards) for i in ids), np.int64, len(ids))
        table = part.select(["id", "contents", "metadata", "line"]).append_column(
            "vector", vector_column(vectors)
        )
        tmp = self.staging.scratch(f"c{index:06d}")
        counts: dict[int, int] = {}
        for shard in np.unique(which):
            rows = pa.array(np.flatnonzero(which == shard))
            pq.write_table(table.take(rows), tmp / f"s{int(shard):03d}.parquet")
            counts[int(shard)] = len(rows)
        self.staging.publish(tmp, self.staging.chunk(index))
        return counts


def _vectors_of(column: Any) -> np.ndarray:
    """A FixedSizeList<float32> column as an (n, dim) array."""
    array = column.combine_chunks()
    return np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(
        len(array), array.type.list_size
    )


@dataclass
class ShardBuilt:
    """What one shard's build made: its documents (with metadata), the malformed lines its
    part of the corpus had (repeated ids), and seconds per stage."""

    shard: int
    documents: int
    with_metadata: int
    skipped: list[tuple[int, str]]
    timings: dict[str, float]

    @classmethod
    def read(cls, path: Path) -> ShardBuilt:
        """What an earlier run wrote of its built shard (``_built``), as it built it."""
        raw = json.loads(path.read_text())
        raw["skipped"] = [(int(line), str(why)) for line, why in raw["skipped"]]  # JSON lists
        return cls(**raw)


class ShardProgress:
    """A shard build's own counts (its documents, and how many of them each half has indexed),
    written to the staging folder at most every ``every`` seconds for the driver's display.
    Shards build on any node: the staging folder is the one place every node and the driver
    share."""

    def __init__(self, path: Path, documents: int, every: float = 1.0):
        self.path = path
        self.every = every
        self.counts = {"documents": documents, "bm25": 0, "hnsw": 0}
        self._lock = threading.Lock()
        self._written = 0.0
        _write_json(path, self.counts)

    def __call__(self, half: str, indexed: int) -> None:
        with self._lock:  # the BM25 half reports from a thread of its own
            self.counts[half] = indexed
            now = time.monotonic()
            if now - self._written >= self.every:
                self._written = now
                _write_json(self.path, self.counts)

    @staticmethod
    def read(path: Path) -> dict[str, int] | None:
        """A shard's last counts; None before it wrote any (or when it was just removed)."""
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None


def build_shard(
    shard: int,
    staging: str,
    opts: BuildOptions,
    dim: int,
    heap: str | None,
) -> ShardBuilt:
    """Build shard ``shard`` from its staged parts into the staging folder's ``built/``: its
    documents in corpus order (a repeated id is malformed at its later line), then BM25 and
    HNSW as the single-process build makes them (a Ray task: its own process and JVM)."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    stage = Staging(Path(staging))
    out = stage.scratch(SHARD_DIR.format(shard))
    work = out / "staging"
    docs = DocShards(work / "docs", "docs")
    vecs = VectorShards(work / "vectors", "vectors")
    seen: set[str] = set()
    skipped: list[tuple[int, str]] = []
    with_metadata = 0
    fmt = opts.fmt or "jsonl"
    for path in stage.parts(shard):
        table = pq.read_table(path)
        ids = table.column("id").to_pylist()
        keep = []
        for row, (docid, text, meta, line) in enumerate(
            zip(
                ids,
                table.column("contents").to_pylist(),
                table.column("metadata").to_pylist(),
                table.column("line").to_pylist(),
                strict=True,
            )
        ):
            if docid in seen:
                if not opts.skip_malformed:
                    raise malformed(opts.corpus, line, fmt, duplicate_id(docid))
                skipped.append((line, duplicate_id(docid)))
                continue
            seen.add(docid)
            keep.append(row)
            record: dict[str, Any] = {"id": docid, "contents": text}
            if meta is not None:
                record["metadata"] = json.loads(meta)
                with_metadata += 1
            docs.write(json.dumps(record, ensure_ascii=False))
        vectors = _vectors_of(table.column("vector"))
        vecs.write([ids[i] for i in keep], vectors[keep])
    docs.close()
    vecs.close()
    read_s = time.perf_counter() - started
    shard_opts = _shard_options(opts, shard)
    if not seen:  # no document hashed here (a tiny corpus): an empty collection folder
        shutil.rmtree(out)
        _empty_shard(out, shard, opts, dim, heap)
        return _built(stage, out, ShardBuilt(shard, 0, 0, skipped, {"read_s": read_s}))
    jvm.start(heap)
    engine = lucene_writer.versions()
    report = ShardProgress(stage.progress(shard), len(seen))
    bm25, hnsw, timings = index_halves(work, out, shard_opts, len(seen), report=report)
    manifest = finish_index(
        out,
        shard_opts,
        dim=dim,
        documents=(len(seen), with_metadata),
        halves=(bm25, hnsw),
        skipped=len(skipped),
        timings={"read_s": read_s, **timings},
        started=started,
        engine=engine,
    )
    shutil.rmtree(work)
    return _built(
        stage, out, ShardBuilt(shard, len(seen), with_metadata, skipped, dict(manifest.timings))
    )


def _built(stage: Staging, out: Path, result: ShardBuilt) -> ShardBuilt:
    """Publish a built shard, then what it made (a resumed build keeps both)."""
    stage.publish(out, stage.built(result.shard))
    _write_json(stage.summary(result.shard), asdict(result))
    return result


def _shard_options(opts: BuildOptions, shard: int) -> BuildOptions:
    return replace(opts, index=opts.index / SHARD_DIR.format(shard), progress=False)


def _empty_shard(out: Path, shard: int, opts: BuildOptions, dim: int, heap: str | None) -> None:
    from lucene_hybrid.server import Collection

    jvm.start(heap)
    coll = Collection.create(
        SHARD_DIR.format(shard),
        out,
        encoder_spec=opts.encoder,
        hnsw=opts.hnsw,
        bm25=opts.bm25,
        load_model=False,
        dim=dim,
    )
    coll.close()


@dataclass
class ShardedBuildReport:
    """A finished sharded build: what ``cluster.json`` records, per-shard results, the
    malformed lines skipped, and seconds per stage (``encode_s`` is reading and encoding)."""

    spec: ClusterSpec
    documents: int
    shards: list[ShardBuilt]
    skipped_lines: list[tuple[int, str]]
    timings: dict[str, float]
    chunks: int = 0
    chunks_resumed: int = 0  # staged by an earlier, interrupted run: not read or encoded again
    shards_resumed: int = 0
    encoders: int = 0
    encoder_resources: dict[str, float] = field(default_factory=dict)


def _fingerprint(opts: BuildOptions, shards: int, chunk_lines: int) -> dict[str, Any]:
    stat = opts.corpus.stat()
    return {
        "corpus": str(opts.corpus.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "format": opts.fmt,
        "fields": asdict(opts.fields),
        "skip_malformed": opts.skip_malformed,
        "shards": shards,
        "chunk_lines": chunk_lines,
        "encoder": opts.encoder.model_dump(),
        "hnsw": opts.hnsw.model_dump(),
        "bm25": opts.bm25.model_dump(),
    }


def _open_staging(opts: BuildOptions, shards: int, chunk_lines: int, resume: bool) -> Staging:
    """The staging folder of this build: the one left by an interrupted run when resuming
    (which must have been asked the same), else a new one."""
    staging = Staging(opts.index.with_name(f".{opts.index.name}.staging"))
    wanted = json.loads(json.dumps(_fingerprint(opts, shards, chunk_lines)))
    if resume and (staging.root / STAGED).exists():
        had = json.loads((staging.root / STAGED).read_text())
        if had != wanted:
            changed = sorted(k for k in wanted if had.get(k) != wanted[k])
            raise IndexBuildError(
                f"the interrupted build staged in {staging.root} was asked otherwise "
                f"({', '.join(changed)} differ): run without --resume to start again"
            )
        shutil.rmtree(staging.root / "tmp", ignore_errors=True)  # what its workers left half-done
        return staging
    if resume:
        log.warning("nothing staged in %s to resume: building from the start", staging.root)
    elif staging.root.exists():
        log.info("removing %s, left by an interrupted build (--resume continues one)", staging.root)
    shutil.rmtree(staging.root, ignore_errors=True)
    staging.root.mkdir(parents=True)
    _write_json(staging.root / STAGED, wanted)
    return staging


def _user_error(exc: BaseException) -> LuceneHybridError | None:
    """The project's own error behind what Ray raised for a failed task or actor call."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        err = todo.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        cause = getattr(err, "cause", None)
        if isinstance(cause, BaseException):
            todo.insert(0, cause)
        elif isinstance(err, LuceneHybridError) and type(err).__module__.startswith(
            "lucene_hybrid"
        ):
            return err
        todo.extend(e for e in (err.__cause__, err.__context__) if e is not None)
    return None


def _encoder_pool(ray: Any, encoders: int | None) -> tuple[int, dict[str, float], int | None]:
    """How many encoder actors, what each asks of Ray, and the threads of each (None: torch's
    default): one per GPU where the cluster has GPUs, else one per node, whose model uses the
    node's cores (shared with the other actors placed there)."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus:
        return encoders or gpus, {"num_gpus": 1, "num_cpus": 1}, None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    n = encoders or max(1, len(nodes))
    cores = min((int(node["Resources"].get("CPU", 1)) for node in nodes), default=1)
    return n, {"num_cpus": 1}, max(1, cores // -(-n // max(1, len(nodes))))


def build_sharded(
    opts: BuildOptions,
    shards: int,
    *,
    address: str | None = None,
    resume: bool = False,
    encoders: int | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> ShardedBuildReport:
    """Build the corpus into a collection of ``shards`` shards at ``opts.index`` on Ray.

    Args:
        opts: What to build (as for ``build_index``).
        shards: The shard count (fixed for the collection's life).
        address: The Ray cluster to build on ("auto": the one running here); None: this
            process's connection if it has one, else a Ray started for the build.
        resume: Continue the interrupted build of the same corpus and options.
        encoders: Encoder actors (default: one per GPU, else one per node).
        chunk_lines: Corpus lines per chunk (the unit of encoding and resumption).

    Raises:
        LuceneHybridError: for bad corpora, encoders or Lucene failures, as the single-process
            build raises them; nothing is left at ``opts.index`` unless the build completed.
    """
    if shards < 1:
        raise IndexBuildError(f"a collection has at least 1 shard, not {shards}")
    if not opts.corpus.is_file():
        raise IndexBuildError(f"{opts.corpus}: no such corpus file")
    opts.index.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(opts.index)
    check_target(opts)
    started = time.perf_counter()
    fmt: CorpusFormat = opts.fmt or detect_format(opts.corpus)
    if address is None:  # a Ray of the build's own, if this process has none: on loopback
        for key, value in PRIVATE_RAY.items():
            os.environ.setdefault(key, value)
    ray = import_ray()
    own_ray = not ray.is_initialized() and address is None
    if own_ray:
        ray.init(logging_level=logging.WARNING)
    else:
        connect_ray(address or "auto")  # no cluster there: nothing is staged
    try:
        staging = _open_staging(opts, shards, chunk_lines, resume)
        report = _build(ray, opts, fmt, shards, staging, encoders, chunk_lines, started)
    except BaseException as exc:
        cause = _user_error(exc)
        if cause is not None:
            raise cause from None
        raise
    finally:
        if own_ray:
            ray.shutdown()
    shutil.rmtree(staging.root, ignore_errors=True)
    return report


def _build(
    ray: Any,
    opts: BuildOptions,
    fmt: CorpusFormat,
    shards: int,
    staging: Staging,
    encoders: int | None,
    chunk_lines: int,
    started: float,
) -> ShardedBuildReport:
    t0 = time.perf_counter()
    chunks = plan_chunks(opts.corpus, chunk_lines)
    plan_s = time.perf_counter() - t0
    resumed = [c for c in chunks if staging.done(c.index)]
    todo = [c for c in chunks if not staging.done(c.index)]
    n_encoders, resources, threads = _encoder_pool(ray, encoders)

    t0 = time.perf_counter()
    if todo:
        _encode(ray, opts, fmt, shards, staging, todo, (n_encoders, resources, threads))
    encode_s = time.perf_counter() - t0
    parts = [p for s in range(shards) for p in staging.parts(s)]
    if not parts:
        raise IndexBuildError(f"{opts.corpus}: no documents to index")
    dim = _dim_of(parts[0])

    t0 = time.perf_counter()
    built, shards_resumed = _index_shards(ray, opts, fmt, shards, staging, dim)
    index_s = time.perf_counter() - t0

    skipped = [
        tuple(x)
        for c in chunks
        if staging.skipped(c.index).exists()
        for x in json.loads(staging.skipped(c.index).read_text())
    ]
    skipped += [x for b in built for x in b.skipped]
    skipped.sort()
    documents = sum(b.documents for b in built)
    timings = {
        "plan_s": plan_s,
        "encode_s": encode_s,
        "index_s": index_s,
        "total_s": time.perf_counter() - started,
    }
    spec = ClusterSpec(
        name=opts.index.name,
        shards=shards,
        encoder=opts.encoder,
        dim=dim,
        hnsw=opts.hnsw,
        bm25=opts.bm25,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build={
            "documents": documents,
            "skipped_lines": len(skipped),
            "corpus": {"path": str(opts.corpus.resolve()), "format": fmt},
            "timings": {k: round(v, 3) for k, v in timings.items()},
        },
    )
    _assemble(opts.index, spec, staging)
    timings["total_s"] = time.perf_counter() - started
    return ShardedBuildReport(
        spec,
        documents,
        built,
        [(int(line), str(reason)) for line, reason in skipped],
        {k: round(v, 3) for k, v in timings.items()},
        chunks=len(chunks),
        chunks_resumed=len(resumed),
        shards_resumed=shards_resumed,
        encoders=n_encoders,
        encoder_resources=resources,
    )


def _encode(
    ray: Any,
    opts: BuildOptions,
    fmt: CorpusFormat,
    shards: int,
    staging: Staging,
    todo: list[Chunk],
    pool: tuple[int, dict[str, float], int | None],
) -> None:
    """Read and encode the chunks not staged yet (Ray Data), with one progress bar."""
    import ray.data

    from lucene_hybrid.cluster.datasource import ChunkSource

    n_encoders, resources, threads = pool
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True  # our own errors, with their messages
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    plan = ReadPlan(opts.corpus, fmt, opts.fields, opts.skip_malformed, opts.encoder, staging.root)
    readers = 1 if is_gzip(opts.corpus) else max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = ray.data.read_datasource(
        ChunkSource(plan, todo, readers), num_cpus=0.25, runtime_env={"env_vars": WORKER_ENV}
    )
    ds = ds.map_batches(
        EncodeChunks,
        fn_constructor_kwargs={
            "spec": opts.encoder,
            "staging": str(staging.root),
            "shards": shards,
            "batch_size": opts.batch_size,
            "threads": threads,
        },
        batch_size=None,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=n_encoders),
        runtime_env={"env_vars": WORKER_ENV},
        **resources,
    )
    lines = {c.index: c.lines for c in todo}
    per_shard = [0] * shards
    with progress_bar(sum(lines.values()), "read+encode", opts.progress) as bar:
        for row in ds.iter_rows():
            for shard, n in json.loads(row["per_shard"]).items():
                per_shard[int(shard)] += n
            bar.update(lines[int(row["chunk"])])
            bar.set_postfix_str("per shard " + "/".join(f"{n:,}" for n in per_shard))


def _dim_of(part: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_schema(part).field("vector").type.list_size)


def _index_shards(
    ray: Any, opts: BuildOptions, fmt: CorpusFormat, shards: int, staging: Staging, dim: int
) -> tuple[list[ShardBuilt], int]:
    """Build every shard not built yet, side by side (one Ray task each: its own JVM)."""
    heap = os.environ.get("LUCENE_HYBRID_JVM_HEAP")
    # max_calls=1: the worker (and its JVM's heap) goes when its shard is built; a worker
    # that dies is retried (its shard is built again from the staged parts).
    task = ray.remote(max_calls=1, max_retries=2, retry_exceptions=False)(build_shard).options(
        num_cpus=1, runtime_env={"env_vars": WORKER_ENV}
    )
    fmt_opts = replace(opts, fmt=fmt)
    waiting = []
    done: list[ShardBuilt] = []
    for s in range(shards):
        if staging.summary(s).exists():
            done.append(ShardBuilt.read(staging.summary(s)))
        else:
            waiting.append(task.remote(s, str(staging.root), fmt_opts, dim, heap))
    resumed = len(done)
    with progress_bar(None, "index shards", opts.progress) as bar:
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=1.0)
            done.extend(ray.get(ready))
            _show_shards(bar, staging, shards, done)
    return sorted(done, key=lambda b: b.shard), resumed


def _show_shards(bar: Any, staging: Staging, shards: int, done: list[ShardBuilt]) -> None:
    """The index stage's bar: documents through HNSW (the longer half) over every shard, and
    per shard building, BM25's and HNSW's counts."""
    built = {d.shard: d.documents for d in done}
    total, indexed, building = sum(built.values()), sum(built.values()), []
    for s in range(shards):
        if s in built:
            continue
        counts = ShardProgress.read(staging.progress(s))
        if counts is None:
            building.append(f"s{s} starting")
            continue
        total += counts["documents"]
        indexed += counts["hnsw"]
        building.append(f"s{s} bm25 {counts['bm25']:,} hnsw {counts['hnsw']:,}")
    if bar.total != total:
        bar.total = total
    bar.update(indexed - bar.n)
    bar.set_postfix_str("; ".join([f"{len(built)}/{shards} shards built", *building]))


def _assemble(index: Path, spec: ClusterSpec, staging: Staging) -> None:
    """Put ``cluster.json`` and the built shards at ``index`` in one step."""
    tmp = index.with_name(f".{index.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        (tmp / CLUSTER_FILE).write_text(spec.to_json())
        for s in range(spec.shards):
            os.replace(staging.built(s), tmp / SHARD_DIR.format(s))
            staging.summary(s).unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_into_place(tmp, index)
