"""One shard of a sharded collection: a live collection in its own Ray actor (its own process
and JVM), searched and written by a router.

A shard is an ordinary lucene-hybrid collection directory (BM25 half, HNSW half, write-ahead
log); it loads no model (the router embeds once, for every shard). When its process dies, Ray
starts the actor again and the collection replays its log on open, so every write the shard
acknowledged is there again.
"""

from __future__ import annotations

import math
import os
import pickle
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.core import jvm
from lucene_hybrid.core.encoder_spec import EncoderSpec
from lucene_hybrid.core.errors import ManifestError
from lucene_hybrid.core.manifest import MANIFEST, Bm25Settings, HnswSettings, read_manifest
from lucene_hybrid.search import ShardAnswer
from lucene_hybrid.server import Collection, DocIn, DocOut

AUTO_HEAP = "auto"
HEAP_BASE_MB = 256
HEAP_BYTES_A_DOCUMENT = 512


def heap_for(documents: int) -> str:
    """The JVM heap (-Xmx) ``auto`` gives a shard holding ``documents`` documents: 256 MB and
    512 bytes a document, in 64 MB steps. The vectors and postings are memory-mapped, outside
    the heap; what grows with the shard on it is the HNSW graph Lucene builds when it merges
    segments (about 130 bytes a vector for its bottom layer's neighbours at M=16, several
    times that in Java objects while it builds)."""
    mb = HEAP_BASE_MB + documents * HEAP_BYTES_A_DOCUMENT / 2**20
    return f"{math.ceil(mb / 64) * 64}m"


def _documents(where: Path) -> int:
    """The documents of the collection in ``where`` as its manifest last counted (0: none)."""
    try:
        return read_manifest(where).documents
    except ManifestError:
        return 0


def pack(value: Any) -> bytes:
    """A search's request or answer as one argument of a Ray call. Ray serializes each argument
    of a call on its own, at about a third of a millisecond apiece here: a search's seven in one
    pickle halve what the call costs beyond the search itself."""
    return pickle.dumps(value, protocol=5)


def unpack(blob: bytes) -> Any:
    """What :func:`pack` packed (both ends are processes of the same cluster)."""
    return pickle.loads(blob)  # noqa: S301 - from our own router or shard, never a client


class Shard:
    """The body of a shard actor: opens (or first creates) its collection directory."""

    def __init__(
        self,
        name: str,
        path: str,
        *,
        encoder_spec: EncoderSpec,
        dim: int,
        hnsw: HnswSettings | None = None,
        bm25: Bm25Settings | None = None,
        commit_interval_s: float = 1.0,
        heap: str | None = None,
    ):
        where = Path(path)
        self.heap = heap_for(_documents(where)) if heap in (None, AUTO_HEAP) else heap
        jvm.start(self.heap)
        if (where / MANIFEST).exists():
            self.collection = Collection(
                name, where, commit_interval_s=commit_interval_s, load_model=False
            )
        else:
            where.parent.mkdir(parents=True, exist_ok=True)
            self.collection = Collection.create(
                name,
                where,
                encoder_spec=encoder_spec,
                hnsw=hnsw,
                bm25=bm25,
                commit_interval_s=commit_interval_s,
                load_model=False,
                dim=dim,
            )
        self._stop = threading.Event()
        self._committer = threading.Thread(target=self._commit_loop, daemon=True)
        self._committer.start()

    def _commit_loop(self) -> None:
        interval = max(self.collection.commit_interval_s / 2, 0.05)
        while not self._stop.wait(interval):
            self.collection.maybe_commit()

    # -- reads --------------------------------------------------------------------------------

    def pid(self) -> int:
        """The actor's process id (a test's kill -9 aims at it)."""
        return os.getpid()

    def status(self) -> dict[str, Any]:
        """Its documents and the -Xmx its JVM was started with."""
        return {"documents": self.collection.count(), "jvm_heap": self.heap}

    def term_stats(self, query: str) -> ShardAnswer:
        """This shard's BM25 statistics of the query's terms (the router adds them up), and the
        version of its view they were counted at."""
        return self.collection.term_stats(query)

    def retrieve(self, request: bytes) -> bytes:
        """Each retriever's candidates on this shard, the milliseconds each took and the stored
        fields of the best of them: :meth:`Collection.retrieve` of the :func:`unpack`-ed
        ``request`` (query, query vector, params, the collection's BM25 statistics, the version
        they were counted at, places and characters of stored fields), its answer packed."""
        return pack(self.collection.retrieve(*unpack(request)))

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored text and metadata of the given documents (absent ones left out)."""
        return self.collection.fetch(ids)

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> list[DocOut]:
        return self.collection.get(ids, with_vectors)

    def ids_after(self, filter_json: str | None, limit: int, after: str | None) -> list[str]:
        """Up to ``limit`` ids matching the filter after ``after``, in id order."""
        return self.collection.ids_after(filter_json, limit, after)

    def count(self) -> int:
        return self.collection.count()

    def size_bytes(self) -> int:
        return self.collection.size_bytes()

    # -- writes -------------------------------------------------------------------------------

    def upsert(self, docs: Sequence[DocIn], vectors: np.ndarray) -> int:
        """Add or replace documents with the vectors the router made for them (in the batch's
        order); durable and visible on return."""
        return self.collection.upsert(docs, vectors)

    def delete(self, ids: Sequence[str]) -> int:
        return self.collection.delete(ids)

    def delete_where(self, filter_json: str | None) -> int:
        return self.collection.delete_where(filter_json)

    def close(self) -> None:
        """Commit and close (the actor is about to be ended)."""
        self._stop.set()
        self.collection.close()
