"""A live collection: one index directory, searchable and writable in real time.

Writes are serialized per collection: each batch is appended to the write-ahead log (fsync),
applied to both Lucene halves, and made visible (NRT refresh) before it is acknowledged.
Lucene commits happen every ``commit_interval_s`` (and on close); the log is truncated after
each commit and replayed on open, so an acknowledged write survives ``kill -9``.

A batch that fails to apply (a Lucene error, the JVM out of heap) is undone whole: both halves
roll back to their last commit, the failed record leaves the log, and the log is replayed.
Both halves are refreshed together under a lock that readers share, so a read never sees a
document's text from one version and its vector from another.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import EncoderError, LuceneHybridError
from lucene_hybrid.core.manifest import (
    BM25_DIR,
    HNSW_DIR,
    WAL_FILE,
    Bm25Settings,
    HnswSettings,
    Manifest,
    read_manifest,
    write_manifest,
)
from lucene_hybrid.indexing.encoders import Encoder, EncoderSpec, check_vectors, load_encoder
from lucene_hybrid.indexing.lucene_store import LuceneStore
from lucene_hybrid.search.hybrid import HybridSearcher
from lucene_hybrid.search.lucene_search import Bm25Searcher, DenseSearcher
from lucene_hybrid.search.merge import ShardAnswer, TermStats, leading_ids
from lucene_hybrid.search.types import Hit, SearchParams, TextBudget
from lucene_hybrid.server.files import EMFILE, RAISE_LIMIT
from lucene_hybrid.server.wal import WriteAheadLog

log = logging.getLogger(__name__)


class DocumentError(LuceneHybridError, ValueError):
    """A document in a write batch is invalid (bad vector, missing text for the encoder...)."""


class StorageError(LuceneHybridError):
    """The write could not be made durable (disk full, read-only data directory...)."""


class FileLimitReached(StorageError):
    """The process is out of file descriptors, or a new collection would leave it too few."""


class CollectionRecovering(StorageError):
    """A failed write's rollback could not reopen the collection: until a retry (made at each
    request) succeeds, it refuses reads and writes rather than answer from a stale state."""


def _first_line(exc: Exception) -> str:
    """An exception's first line (a Java one's stack trace left out), at most 300 characters."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else repr(exc)


class CollectionClosed(LuceneHybridError):
    """The collection was deleted (or closed) while a request that had found it was waiting."""


@dataclass(frozen=True)
class DocIn:
    """A document to upsert; ``vector`` None means the server embeds ``text``."""

    id: str
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: Sequence[float] | None = None


@dataclass(frozen=True)
class DocOut:
    """A stored document."""

    id: str
    text: str
    metadata: dict[str, Any]
    vector: list[float] | None = None


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path``. Files and folders may vanish during the walk (a merge
    removes segments, a delete removes the collection): they count as 0, never an error, where
    ``Path.rglob`` raises when a folder it is about to list is gone."""
    total = 0
    for folder, _, files in os.walk(path):  # os.walk skips a folder it cannot list
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _b64(vectors: np.ndarray) -> list[str]:
    return [
        base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode() for v in vectors
    ]


def _unb64(items: Sequence[str], dim: int) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(s), dtype="<f4") for s in items]).reshape(
        -1, dim
    )


def vectors_for(
    docs: Sequence[DocIn],
    dim: int,
    normalize: bool,
    encoder: Encoder | None,
    collection: str,
) -> np.ndarray:
    """The vectors of a write batch, in its order: each document's own (checked, normalized
    when the collection's are) or, where it has none, its text embedded by ``encoder``.

    Raises:
        DocumentError: a given vector is invalid, or a document has none and there is no
            encoder.
    """
    out = np.zeros((len(docs), dim), dtype=np.float32)
    missing = [i for i, d in enumerate(docs) if d.vector is None]
    given = [i for i, d in enumerate(docs) if d.vector is not None]
    if given:
        try:
            out[given] = check_vectors(
                np.asarray([docs[i].vector for i in given], dtype=np.float64), dim, normalize
            )
        except (EncoderError, ValueError) as exc:
            raise DocumentError(str(exc)) from exc
    if missing:
        if encoder is None:
            raise DocumentError(
                f"collection '{collection}' has no server-side encoder: every document "
                f"needs a 'vector' of {dim} numbers"
            )
        out[missing] = encoder.encode_documents([docs[i].text for i in missing])
    return out


class ServedCollection(Protocol):
    """What the API needs of a collection: a :class:`Collection` in this process, or one split
    into shards on a cluster (``lucene_hybrid.cluster``)."""

    name: str
    path: Path
    manifest: Manifest

    def search(
        self,
        query: str | None,
        params: SearchParams,
        vector: Sequence[float] | None = None,
        timings: dict[str, float] | None = None,
        missing: list[int] | None = None,
    ) -> list[Hit]:
        """Hits for a search. ``missing`` None: every part of the collection answers or the
        search fails; a list: parts that do not answer in time are left out and their
        numbers added to it."""
        ...

    def upsert(self, docs: Sequence[DocIn]) -> int: ...

    def get(
        self, ids: Sequence[str], with_vectors: bool = False, budget: TextBudget | None = None
    ) -> list[DocOut]: ...

    def find(
        self,
        filter_json: str | None,
        limit: int,
        with_vectors: bool = False,
        after: str | None = None,
        budget: TextBudget | None = None,
    ) -> tuple[list[DocOut], str | None]: ...

    def delete(self, ids: Sequence[str]) -> int: ...

    def delete_where(self, filter_json: str | None) -> int: ...

    def embed(self, texts: Sequence[str], input_type: str = "query") -> np.ndarray: ...

    def count(self) -> int: ...

    def size_bytes(self) -> int: ...

    def shard_status(self) -> list[dict[str, Any]] | None:
        """Each shard's state (``shard``, ``up``, ``documents``), or None for a collection
        held whole by this process."""
        ...

    def maybe_commit(self) -> None: ...

    def close(self, why: str | None = None) -> None: ...


class Collection:
    """Search, upsert, get and delete on one index directory."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        encoder: Encoder | None = None,
        commit_interval_s: float = 1.0,
        load_model: bool = True,
    ):
        """Open the collection in ``path``, replaying its log. ``load_model`` False: no model
        is loaded for the manifest's encoder, and documents must come with their vectors (a
        shard, whose router embeds)."""
        self.name = name
        self.path = path
        self.manifest = read_manifest(path)
        self.commit_interval_s = commit_interval_s
        self._write_lock = threading.Lock()
        self._closed = False  # writes refused
        self._gone: str | None = None  # once closed: why, and reads are refused too
        self._unrecovered: int | None = None  # a failed batch's log offset, while not undone
        spec = self.manifest.encoder
        if encoder is None and spec.kind != "precomputed" and load_model:
            encoder = load_encoder(spec)
        if encoder is not None:
            self.manifest.check_encoder(encoder.spec, encoder.dim)
        self.encoder = encoder
        self._view = ReadWriteLock()
        bm25, dense = self._open_store()
        self.searcher = HybridSearcher(
            self.manifest, bm25, dense, encoder, owns_handles=False, snapshot=self._reading
        )
        self.wal = WriteAheadLog(path / WAL_FILE)
        self._recover()
        self._last_commit = time.monotonic()

    def _open_store(self) -> tuple[Bm25Searcher, DenseSearcher]:
        """Open both halves for writing (``self.store``) and searchers over the same handles;
        each opening gets a token of its own (see :meth:`view_version`)."""
        self.store = LuceneStore(self.path, self.manifest)
        self._opening = os.urandom(4).hex()
        m = self.manifest
        return (
            Bm25Searcher(self.store.bm25, m.bm25.field),
            DenseSearcher(self.store.hnsw, m.dim, m.hnsw),
        )

    @property
    def dense(self) -> DenseSearcher:
        assert self.searcher.dense is not None  # a collection always has both halves
        return self.searcher.dense

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        path: Path,
        *,
        encoder_spec: EncoderSpec,
        encoder: Encoder | None = None,
        hnsw: HnswSettings | None = None,
        bm25: Bm25Settings | None = None,
        commit_interval_s: float = 1.0,
        load_model: bool = True,
        dim: int | None = None,
    ) -> Collection:
        """Create an empty collection directory (manifest + empty Lucene halves) and open it
        (``load_model``: as for the constructor; without a model, ``dim`` or else
        ``encoder_spec.dim`` is the vectors' dimension)."""
        if encoder is None and encoder_spec.kind != "precomputed" and load_model:
            encoder = load_encoder(encoder_spec)
        dim = encoder.dim if encoder is not None else dim or encoder_spec.dim
        if not dim:
            raise EncoderError("a collection of precomputed vectors needs encoder.dim")
        tmp = path.with_name(f".{path.name}.creating")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            (tmp / BM25_DIR).mkdir()
            (tmp / HNSW_DIR).mkdir()
            manifest = Manifest(
                name=name,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                encoder=encoder_spec,
                dim=dim,
                bm25=bm25 or Bm25Settings(),
                hnsw=hnsw or HnswSettings(),
                corpus={"source": "api"},
            )
            write_manifest(tmp, manifest)
            LuceneStore(tmp, manifest, create=True).close()  # two empty, committed indexes
            tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(
            name, path, encoder=encoder, commit_interval_s=commit_interval_s, load_model=load_model
        )

    def _recover(self) -> None:
        replayed = 0
        for record in self.wal.replay():
            self._apply(record)
            replayed += 1
        if replayed:
            self.store.commit()
            self.store.refresh()
            log.info("collection %s: replayed %d logged batches", self.name, replayed)
        self.wal.truncate()

    @contextmanager
    def _reading(self, write_locked: bool = False) -> Iterator[None]:
        """Hold the searchers' view for one read; refused once the collection is closed.
        ``write_locked``: the caller holds the write lock (and has finished any rollback)."""
        if not write_locked:
            self._recovered()
        with self._view.shared():
            if self._gone is not None:
                raise CollectionClosed(self._gone)
            yield

    def close(self, why: str | None = None) -> None:
        """Commit what is applied, truncate the log, close the writers. Reads in flight finish
        first; later reads and writes raise ``CollectionClosed`` with ``why``."""
        with self._write_lock:
            if self._gone is not None:
                return
            with self._view.exclusive():
                self._gone = why or f"collection '{self.name}' is closed"
            self._closed = True
            if self._unrecovered is not None:  # the log keeps every acknowledged write
                with suppress(Exception):
                    self.store.rollback()
                self.wal.close()
                return
            if not self.wal.still_linked():  # its directory is gone: nothing to commit into
                try:
                    self.store.rollback()
                finally:
                    self.wal.close()
                return
            try:
                self.store.commit()
                self.wal.truncate()
            finally:
                self.store.close()
                self.wal.close()

    # -- writes -------------------------------------------------------------------------------

    def _apply(self, record: dict[str, Any]) -> None:
        if record["op"] == "upsert":
            docs = record["docs"]
            vectors = _unb64([d["vector"] for d in docs], self.manifest.dim)
            self.store.upsert(
                [d["id"] for d in docs],
                [d["text"] for d in docs],
                [d["metadata"] for d in docs],
                vectors,
            )
        elif record["op"] == "delete":
            self.store.delete(record["ids"])
        elif record["op"] == "delete_filter":
            self.store.delete_by_filter(record["filter"])
        else:  # pragma: no cover - only this module writes records
            raise ValueError(f"unknown log record {record['op']!r}")

    def _vectors_for(self, docs: Sequence[DocIn]) -> np.ndarray:
        m = self.manifest
        return vectors_for(docs, m.dim, m.hnsw.vectors_normalized, self.encoder, self.name)

    def upsert(self, docs: Sequence[DocIn], vectors: np.ndarray | None = None) -> int:
        """Add or replace documents by id; durable and visible when this returns. ``vectors``:
        the batch's vectors, already made by :func:`vectors_for` (a router does, for its
        shards); None to make them here."""
        if vectors is None:
            vectors = self._vectors_for(docs)  # encode outside the write lock
        record = {
            "op": "upsert",
            "docs": [
                {"id": d.id, "text": d.text, "metadata": d.metadata, "vector": v}
                for d, v in zip(docs, _b64(vectors), strict=True)
            ],
        }
        self._write(record)
        return len(docs)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id (absent ids are ignored); durable and visible on return."""
        self._write({"op": "delete", "ids": list(ids)})
        return len(ids)

    def delete_where(self, filter_json: str | None) -> int:
        """Delete every document matching a metadata filter (None: all); returns how many."""
        with self._write_lock:  # count and delete with no write in between
            self._recover_locked()
            with self._reading(write_locked=True):  # not count(): it would take the lock again
                docs = self.searcher.bm25.num_docs
                matched = len(self.searcher.bm25.filter_ids(filter_json, max(docs, 1)))
            self._write_locked({"op": "delete_filter", "filter": filter_json})
        return matched

    def _write(self, record: dict[str, Any]) -> None:
        with self._write_lock:
            self._write_locked(record)

    def _write_locked(self, record: dict[str, Any]) -> None:
        if self._gone is not None:
            raise CollectionClosed(self._gone)
        if self._closed:
            raise StorageError(f"collection '{self.name}' is closed; restart the server")
        self._recover_locked()  # a rollback left unfinished, if any
        if not self.wal.still_linked():
            raise StorageError(
                f"collection '{self.name}': its directory {self.path} was removed or "
                "replaced while the server was running, so writes are refused (searches "
                "still see the data as it was); restart the server or delete the collection"
            )
        offset = self.wal.tell()
        try:
            self.wal.append(record)
        except OSError as exc:
            raise StorageError(
                f"collection '{self.name}': the write was not accepted, nothing changed "
                f"({exc.strerror or exc}); free space or fix permissions on {self.path}"
            ) from exc
        try:
            self._apply(record)
            with self._view.exclusive():
                self.store.refresh()
        except Exception as exc:
            self._undo(offset)
            if jvm.java_error(exc) == jvm.OUT_OF_MEMORY:
                raise  # the API answers 503: retry smaller, or give the JVM more heap
            reason = _first_line(exc)
            if jvm.java_error(exc) == jvm.ILLEGAL_ARGUMENT:
                raise DocumentError(  # Lucene refused a document (e.g. an immense term)
                    f"Lucene refused the batch, which was rolled back whole: {reason}"
                ) from exc
            if EMFILE in reason:
                raise FileLimitReached(
                    f"collection '{self.name}': the write failed in Lucene and was rolled back, "
                    f"nothing changed: the server is out of file descriptors ({reason}); "
                    f"{RAISE_LIMIT}"
                ) from exc
            raise StorageError(
                f"collection '{self.name}': the write failed in Lucene and was rolled back, "
                f"nothing changed ({reason})"
            ) from exc
        if time.monotonic() - self._last_commit >= self.commit_interval_s:
            self._commit_locked()

    def _undo(self, offset: int) -> None:
        """Undo a batch that failed part-way: roll back to the last commit, replay the rest."""
        log.warning("collection %s: a write failed to apply; rolling it back", self.name)
        self._unrecovered = offset
        self._recover_locked()

    def _recover_locked(self) -> None:
        """If a failed batch is not undone yet: roll both halves back to their last commit, drop
        the batch from the log and replay the rest (the write lock held; the view is taken
        here). Retried at each later request until it succeeds: a rollback that cannot reopen
        the halves (no file descriptor left, say) leaves them at their last commit, without the
        log's acknowledged writes.

        Raises:
            CollectionRecovering: while it fails.
        """
        if self._unrecovered is None:
            return
        with self._view.exclusive():
            try:
                with suppress(Exception):  # closed already by an earlier try
                    self.store.rollback()
                self.wal.truncate_to(self._unrecovered)
                self.searcher.reopened(*self._open_store())
                replayed = 0
                for record in self.wal.replay():
                    self._apply(record)
                    replayed += 1
                self.store.refresh()
                self.wal.records = replayed  # not what each try's truncation counted down
            except Exception as exc:
                log.exception("collection %s: recovery after a failed write failed", self.name)
                reason = _first_line(exc)
                way_out = f"; {RAISE_LIMIT}" if EMFILE in reason else ""
                raise CollectionRecovering(
                    f"collection '{self.name}': a write failed and so did its rollback "
                    f"({reason}); it refuses reads and writes until a retry, made at each "
                    f"request, succeeds (acknowledged writes are in its log){way_out}"
                ) from exc
        self._unrecovered = None

    def _recovered(self) -> None:
        """Finish an interrupted rollback before a read (cheap when there is none)."""
        if self._unrecovered is not None:
            with self._write_lock:
                self._recover_locked()

    def _commit_locked(self) -> None:
        """Commit both halves, then empty the log; a failure keeps the log (and logs why)."""
        try:
            self.store.commit()
            self.wal.truncate()
        except Exception:  # the log still holds every acknowledged batch: retried next time
            log.exception("collection %s: commit failed; the log keeps the writes", self.name)
        self._last_commit = time.monotonic()

    def maybe_commit(self) -> None:
        """Commit when writes are pending and the interval has passed (called by a timer)."""
        with self._write_lock:
            due = time.monotonic() - self._last_commit >= self.commit_interval_s
            if not self._closed and self._unrecovered is None and self.wal.records and due:
                self._commit_locked()

    # -- reads --------------------------------------------------------------------------------

    def search(
        self,
        query: str | None,
        params: SearchParams,
        vector: Sequence[float] | None = None,
        timings: dict[str, float] | None = None,
        missing: list[int] | None = None,
    ) -> list[Hit]:
        """Search in any mode (see :class:`HybridSearcher`). ``missing``: see
        :class:`ServedCollection` (one part: it is never added to)."""
        self._recovered()
        return self.searcher.search(query, params, vector, timings)

    def get(
        self, ids: Sequence[str], with_vectors: bool = False, budget: TextBudget | None = None
    ) -> list[DocOut]:
        """Stored documents by id, in the order asked; absent ids are left out.

        Raises:
            ResponseTooLarge: when they do not all fit in ``budget``.
        """
        with self._reading():  # text, metadata and vector of one version
            return self._docs(ids, self.searcher.bm25.fetch(list(ids), budget), with_vectors)

    def find(
        self,
        filter_json: str | None,
        limit: int,
        with_vectors: bool = False,
        after: str | None = None,
        budget: TextBudget | None = None,
    ) -> tuple[list[DocOut], str | None]:
        """One page of the stored documents matching a metadata filter (None: any), in id
        order: up to ``limit`` of them after the id ``after``, fewer where ``budget`` runs out
        (never none while any is left), and the id to pass as ``after`` for the next page (None
        when this page is the last)."""
        with self._reading():
            bm25 = self.searcher.bm25
            ids = bm25.ids_after(filter_json, limit + 1, after)
            more = len(ids) > limit
            ids = ids[:limit]
            found, read = bm25.fetch_prefix(ids, budget)
            if ids and not read:  # one document always, so that the walk moves on
                found, read = bm25.fetch_prefix(ids[:1])
            more = more or read < len(ids)
            ids = ids[:read]
            return self._docs(ids, found, with_vectors), ids[-1] if more else None

    # -- what a router asks of a collection that is one shard of a larger one -----------------

    def view_version(self) -> str:
        """The version of what reads see: it changes whenever a write becomes visible, and
        differs between two openings of the collection (a restart, a rollback)."""
        return f"{self._opening}:{self.searcher.bm25.version()}"

    def term_stats(self, query: str) -> ShardAnswer:
        """This collection's BM25 statistics of the query's terms (a router adds its shards'),
        and the version they were counted at."""
        with self._reading():
            return ShardAnswer(self.view_version(), stats=self.searcher.bm25.term_stats(query))

    def retrieve(
        self,
        query: str | None,
        qvec: np.ndarray | None,
        params: SearchParams,
        stats: TermStats | None,
        version: str | None = None,
        doc_ranks: int = 0,
        doc_chars: int = 0,
    ) -> ShardAnswer:
        """Each retriever's candidates before fusion (BM25 scored with a whole collection's
        ``stats``; see :meth:`HybridSearcher.retrieve`), the milliseconds each took, and the
        stored records of the documents in the first ``doc_ranks`` places of the lists, while
        they come to at most ``doc_chars`` characters.

        ``version``: the one ``stats`` were counted at. When it is not the current one, nothing
        is searched and the answer carries this collection's statistics instead (the caller
        adds them up again and asks once more).
        """
        start = time.perf_counter()
        timings: dict[str, float] = {}
        with self._reading():
            now = self.view_version()
            if stats is not None and version is not None and version != now:
                return ShardAnswer(now, stats=self.searcher.bm25.term_stats(query or ""))
            lists = self.searcher.retrieve(query, qvec, params, timings, stats)
            docs: dict[str, str] = {}
            if doc_ranks and doc_chars:
                t0 = time.perf_counter()
                ids = leading_ids(lists.values(), doc_ranks)
                docs = self.searcher.bm25.stored(ids, doc_chars)  # parsed by the router
                timings["fetch_ms"] = (time.perf_counter() - t0) * 1000
            timings["total_ms"] = (time.perf_counter() - start) * 1000
            return ShardAnswer(now, lists, timings, docs=docs)

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored text and metadata of the given documents, by id (absent ones left out)."""
        with self._reading():
            return self.searcher.bm25.fetch(list(ids))

    def ids_after(self, filter_json: str | None, limit: int, after: str | None) -> list[str]:
        """Up to ``limit`` ids of documents matching a filter (None: any) after ``after``, in
        id order."""
        with self._reading():
            return self.searcher.bm25.ids_after(filter_json, limit, after)

    def _docs(
        self,
        ids: Sequence[str],
        found: dict[str, tuple[str, dict[str, Any]]],
        with_vectors: bool,
    ) -> list[DocOut]:
        out = []
        for docid in ids:
            if docid in found:
                text, metadata = found[docid]
                vec = self.dense.vector(docid) if with_vectors else None
                out.append(DocOut(docid, text, metadata, vec.tolist() if vec is not None else None))
        return out

    def embed(self, texts: Sequence[str], input_type: str = "query") -> np.ndarray:
        """Embed texts with the collection's encoder (queries or documents, prefixes applied).

        Raises:
            EncoderError: when the collection has no server-side encoder.
        """
        if self.encoder is None:
            raise EncoderError(
                f"collection '{self.name}' has no server-side encoder: embed on the client"
            )
        if input_type == "document":
            return self.encoder.encode_documents(list(texts))
        return self.encoder.encode_queries(list(texts))

    def count(self) -> int:
        """Live documents (as of the latest refresh)."""
        with self._reading():
            return self.searcher.bm25.num_docs

    def size_bytes(self) -> int:
        """Bytes on disk of the whole collection directory."""
        return tree_bytes(self.path)

    def shard_status(self) -> list[dict[str, Any]] | None:
        """None: one process holds the whole collection (see :class:`ServedCollection`)."""
        return None
