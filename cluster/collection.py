"""A sharded collection: N shards in Ray actors, searched and written through one router.

Document ``id`` lives in shard ``shard_of(id, N)`` (``core/sharding.py``); N is fixed when the
collection is created. The folder of a sharded collection holds ``cluster.json`` (name, shard
count, encoder, settings) and one ordinary collection folder per shard (``shard-000``, ...).

A search equals the search of one index holding every shard's documents: the router embeds the
query once, gathers the shards' BM25 statistics of its terms and adds them up (Elasticsearch's
dfs_query_then_fetch), sends both retrievals to every shard at once, merges each retriever's
per-shard lists into the best ``depth`` and fuses them with the same code as one index
(``search/merge.py``, ``search/hybrid.py``). A shard that does not answer within
``timeout_s`` fails the request with :class:`ShardUnavailable`, never a partial ranking.

A write batch is split by shard and the parts written at once, each durable (the shard's log)
and visible before its shard acknowledges; the batch is acknowledged when every part is. When
one part fails the others may have been applied: a document is written whole or not at all,
and since writes are idempotent by id the client retries the whole batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lucene_hybrid.cluster.shard import AUTO_HEAP, Shard, pack, unpack
from lucene_hybrid.cluster.stats import StatsCache
from lucene_hybrid.core.encoder_spec import EncoderSpec
from lucene_hybrid.core.errors import (
    EncoderError,
    LuceneHybridError,
    ManifestError,
    PartUnavailable,
)
from lucene_hybrid.core.manifest import Bm25Settings, HnswSettings, Manifest
from lucene_hybrid.core.sharding import CLUSTER_FILE, SHARD_DIR, by_shard
from lucene_hybrid.indexing.encoders import Encoder, load_encoder
from lucene_hybrid.search import (
    Hit,
    QueryEmbeddings,
    Ranked,
    SearchParamError,
    SearchParams,
    ShardAnswer,
    TermStats,
    TextBudget,
    adjust_ties,
    analyzed_terms,
    fuse,
    merge_ranked,
    stored_fields,
    to_hits,
)
from lucene_hybrid.server import DocIn, DocOut
from lucene_hybrid.server.collection import CollectionClosed, vectors_for

log = logging.getLogger(__name__)

NAMESPACE = "lucene-hybrid"  # Ray namespace of the shard actors: front ends find them by name
DEFAULT_TIMEOUT_S = 30.0
# A shard's answer carries the stored records of its candidates in the first INLINE_PAGES pages'
# worth of places, shared among the shards (a shard holds about its share of the collection's
# first places), up to INLINE_CHARS: small enough to travel inline in Ray's reply, not through
# its object store. Fused pages mostly come from there; what does not is fetched after fusion.
INLINE_PAGES = 3
INLINE_CHARS = 32_000
STALE_RETRIES = 2  # searches asked again after a shard's view moved on, before scoring anyway
START_TIMEOUT_S = 300.0  # a new shard's process, imports, JVM and log replay


def inline_ranks(top: int, shards: int) -> int:
    """How many places of each of its lists a shard sends the stored records of, for a page
    ending at place ``top`` of a collection of ``shards`` shards."""
    return -(-top * INLINE_PAGES // shards)  # rounded up


class ShardUnavailable(PartUnavailable):
    """A shard did not answer in time (its process died and is restarting, or its node is
    gone); nothing partial was returned. Retry after a few seconds."""


@dataclass(frozen=True)
class ClusterSpec:
    """What ``cluster.json`` records: fixed when the collection is created."""

    name: str
    shards: int
    encoder: EncoderSpec
    dim: int
    hnsw: HnswSettings
    bm25: Bm25Settings
    created_at: str = ""
    build: dict[str, Any] | None = None  # a collection built by `index --shards`: how

    def to_json(self) -> str:
        record = {
            "created_at": self.created_at,
            "name": self.name,
            "shards": self.shards,
            "encoder": self.encoder.model_dump(),
            "dim": self.dim,
            "hnsw": self.hnsw.model_dump(),
            "bm25": self.bm25.model_dump(),
        }
        if self.build is not None:
            record["build"] = self.build
        return json.dumps(record, indent=2)

    @classmethod
    def read(cls, path: Path) -> ClusterSpec:
        try:
            raw = json.loads((path / CLUSTER_FILE).read_text())
            return cls(
                name=raw["name"],
                shards=int(raw["shards"]),
                encoder=EncoderSpec(**raw["encoder"]),
                dim=int(raw["dim"]),
                hnsw=HnswSettings(**raw["hnsw"]),
                bm25=Bm25Settings(**raw["bm25"]),
                created_at=raw.get("created_at", ""),
                build=raw.get("build"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ManifestError(
                f"{path / CLUSTER_FILE} is missing or unreadable ({exc}): not a sharded collection"
            ) from exc


def _actor_name(name: str, path: Path, shard: int) -> str:
    """A shard actor's name: the collection's name and a digest of its folder (two servers'
    collections of the same name stay apart), then the shard's folder."""
    digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=4).hexdigest()
    return f"{name}-{digest}/{SHARD_DIR.format(shard)}"


def _chars(text: str, metadata: dict[str, Any]) -> int:
    """What a document spends of a response's text budget: its text and metadata."""
    return len(text) + len(json.dumps(metadata))


def _spend(budget: TextBudget | None, chars: int) -> None:
    """Spend ``chars`` of ``budget`` (None: unbounded).

    Raises:
        ResponseTooLarge: when that is more than it has left.
    """
    if budget is not None:
        budget.spend(chars)
        if budget.left < 0:
            raise budget.exceeded()


# Ray's core worker installs a failure signal handler that takes the JVM's own SIGSEGVs
# (HotSpot's implicit null checks and safepoints, recovered from in normal running) for crashes
# and kills the process. Every process here runs a JVM beside a core worker (the router when it
# serves one-process collections too, each shard always), so the handler stays off in them. Ray
# reads this when it is imported, and a worker process when it starts.
NO_SIGNAL_HANDLER = {"RAY_DISABLE_FAILURE_SIGNAL_HANDLER": "1"}


def import_ray() -> Any:
    """Ray, imported with its failure signal handler off (see ``NO_SIGNAL_HANDLER``)."""
    for key, value in NO_SIGNAL_HANDLER.items():
        os.environ.setdefault(key, value)
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - the cluster extra is installed by tests
        raise LuceneHybridError(
            "sharded collections run on Ray: pip install 'lucene-hybrid[cluster]'"
        ) from exc
    return ray


class ShardedCollection:
    """Search, upsert, get and delete over the shards of one collection (a router).

    Several routers (front ends) may serve one collection: the shard actors are named after it
    in the ``lucene-hybrid`` Ray namespace, and the first router to ask starts them.
    """

    def __init__(
        self,
        spec: ClusterSpec,
        path: Path,
        shards: list[Any],
        encoder: Encoder | None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ):
        self.name = spec.name
        self.spec = spec
        self.path = path
        self.shards = shards
        self.encoder = encoder
        self.timeout_s = timeout_s
        self.manifest = Manifest(
            name=spec.name,
            created_at=spec.created_at,
            encoder=spec.encoder,
            dim=spec.dim,
            bm25=spec.bm25,
            hnsw=spec.hnsw,
            corpus={"source": "api", "shards": spec.shards},
        )
        self._gone: str | None = None
        self.queries = QueryEmbeddings(self._encode_queries)
        self._stats = StatsCache(spec.shards)

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        name: str,
        path: str | Path,
        *,
        shards: int | None = None,
        encoder_spec: EncoderSpec | None = None,
        encoder: Encoder | None = None,
        hnsw: HnswSettings | None = None,
        bm25: Bm25Settings | None = None,
        heap: str = AUTO_HEAP,
        commit_interval_s: float = 1.0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        actor_options: dict[str, Any] | None = None,
    ) -> ShardedCollection:
        """Open the sharded collection in ``path``, or create it with ``shards`` shards when
        the folder holds none, and find (or start) its shard actors on the Ray cluster this
        process is connected to (``ray.init`` first).

        Args:
            name: The collection's name (the shard actors are named after it).
            path: Its folder; every node running a shard must see it at this path.
            shards: The shard count, for a new collection (an existing one keeps its own).
            encoder_spec: The encoder of a new collection (default: the default model).
            encoder: A loaded encoder to embed with (else the spec's model is loaded here).
            heap: Each shard's JVM heap (-Xmx), or ``"auto"``: sized to the shard when its
                process starts (:func:`heap_for`).
            timeout_s: How long a request waits for a shard before :class:`ShardUnavailable`.
            actor_options: Extra Ray actor options for the shards (``num_cpus``, resources...).

        Raises:
            ManifestError: ``path`` holds no sharded collection and ``shards`` is not given,
                or the encoder does not match the collection's.
        """
        ray = import_ray()
        path = Path(path)
        if (path / CLUSTER_FILE).exists():
            spec = ClusterSpec.read(path)
            if shards is not None and shards != spec.shards:
                raise ManifestError(
                    f"collection '{spec.name}' has {spec.shards} shards, not {shards}: the "
                    "count is fixed at creation (reindex into a new collection to change it)"
                )
        else:
            if shards is None:
                raise ManifestError(f"{path} holds no sharded collection: give a shard count")
            espec = encoder_spec or (encoder.spec if encoder is not None else EncoderSpec())
            if encoder is None and espec.kind != "precomputed":
                encoder = load_encoder(espec)
            dim = encoder.dim if encoder is not None else espec.dim
            if not dim:
                raise EncoderError("a collection of precomputed vectors needs encoder.dim")
            spec = ClusterSpec(
                name,
                shards,
                espec,
                dim,
                hnsw or HnswSettings(),
                bm25 or Bm25Settings(),
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            path.mkdir(parents=True, exist_ok=True)
            tmp = path / f".{CLUSTER_FILE}.tmp"
            tmp.write_text(spec.to_json())
            tmp.replace(path / CLUSTER_FILE)
        if encoder is None and spec.encoder.kind != "precomputed":
            encoder = load_encoder(spec.encoder)
        if encoder is not None and encoder.dim != spec.dim:
            raise ManifestError(
                f"collection '{spec.name}' holds {spec.dim}-dim vectors; the encoder gives "
                f"{encoder.dim}"
            )
        actor = ray.remote(Shard)
        options = {
            "namespace": NAMESPACE,
            "get_if_exists": True,
            "lifetime": "detached",  # outlives the router that started it
            "max_restarts": -1,  # Ray starts a dead shard again; it replays its log
            "max_task_retries": -1,  # a call to a restarting shard waits for it (up to timeout)
            "max_concurrency": 16,  # searches and writes in threads (Lucene releases the GIL)
            "num_cpus": 0,
            "scheduling_strategy": "SPREAD",
            "runtime_env": {"env_vars": dict(NO_SIGNAL_HANDLER)},
            **(actor_options or {}),
        }
        handles = [
            actor.options(name=_actor_name(spec.name, path, i), **options).remote(
                spec.name,
                str(path / SHARD_DIR.format(i)),
                encoder_spec=spec.encoder,
                dim=spec.dim,
                hnsw=spec.hnsw,
                bm25=spec.bm25,
                commit_interval_s=commit_interval_s,
                heap=heap,
            )
            for i in range(spec.shards)
        ]
        coll = cls(spec, path, handles, encoder, max(timeout_s, START_TIMEOUT_S))
        coll._gather([h.count.remote() for h in handles], " (starting)")  # every shard up
        coll.timeout_s = timeout_s
        return coll

    @staticmethod
    def end_actors(name: str, path: Path, shards: int) -> None:
        """End whatever shard actors of the collection in ``path`` are running (a creation
        that failed part-way), without waiting for them to close."""
        ray = import_ray()
        for i in range(shards):
            try:
                ray.kill(ray.get_actor(_actor_name(name, path, i), NAMESPACE), no_restart=True)
            except ValueError:  # never started
                continue

    def shutdown(self) -> None:
        """Commit and close every shard and end its actor (the collection stays on disk); also
        after :meth:`close`, as when the collection is being deleted. A shard that does not
        close within ``timeout_s`` is ended anyway: its log keeps what it acknowledged."""
        ray = import_ray()
        try:
            ray.get([h.close.remote() for h in self.shards], timeout=self.timeout_s)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):
            log.warning("collection %s: a shard did not close; ending it anyway", self.name)
        finally:
            for h in self.shards:
                ray.kill(h, no_restart=True)

    # -- plumbing -----------------------------------------------------------------------------

    def _gather(self, refs: list[Any], what: str = "") -> list[Any]:
        """Every shard's answer, or :class:`ShardUnavailable` after ``timeout_s``."""
        ray = import_ray()
        if self._gone is not None:
            raise CollectionClosed(self._gone)
        try:
            return ray.get(refs, timeout=self.timeout_s)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as exc:
            for ref in refs:
                ray.cancel(ref, force=False)
            raise ShardUnavailable(
                f"collection '{self.name}': a shard did not answer within {self.timeout_s:g} s "
                f"({type(exc).__name__}){what}; retry in a few seconds"
            ) from exc

    def _gather_some(
        self,
        refs: list[Any],
        missing: list[int] | None,
        timeout_s: float | None = None,
        numbers: list[int] | None = None,
    ) -> list[Any]:
        """Each shard's answer, in order; with ``missing`` a list, a shard that does not answer
        in time gets None and its number (``numbers[i]`` for ``refs[i]``; default ``i``) goes
        into ``missing`` (else the request fails as in :meth:`_gather`)."""
        if missing is None:
            return self._gather(refs)
        ray = import_ray()
        if self._gone is not None:
            raise CollectionClosed(self._gone)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        done = set(ready)
        out: list[Any] = []
        for i, ref in enumerate(refs):
            try:
                out.append(ray.get(ref) if ref in done else None)
            except ray.exceptions.RayActorError:
                out.append(None)
            if out[-1] is None:
                ray.cancel(ref, force=False)
                number = numbers[i] if numbers is not None else i
                if number not in missing:
                    missing.append(number)
        return out

    def _per_shard(self, ids: Sequence[str], call: Callable[[Any, list[str]], Any]) -> list[Any]:
        """``call(shard, its ids)`` on each shard holding some of ``ids``, all at once."""
        groups = by_shard(ids, self.spec.shards)
        refs = [call(self.shards[s], [ids[i] for i in pos]) for s, pos in groups.items()]
        return self._gather(refs)

    # -- reads --------------------------------------------------------------------------------

    def _encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        if self.encoder is None:
            raise EncoderError("this collection has no query encoder; pass a query vector")
        return self.encoder.encode_queries(list(queries))

    def search(
        self,
        query: str | None,
        params: SearchParams,
        vector: Sequence[float] | None = None,
        timings: dict[str, float] | None = None,
        missing: list[int] | None = None,
    ) -> list[Hit]:
        """Search in any mode, with the answer one index holding every shard would give.
        ``missing`` a list: shards that do not answer in time are left out (the answer is
        then that of the shards that did) and their numbers added to it.

        One round trip to the shards in the usual case: BM25's statistics come from the
        router's :class:`StatsCache` (asked of the shards only for terms it has not seen, or
        after a write), and each shard's answer carries the stored fields of its best
        candidates (the rest of a page, when any, is fetched after fusion).

        Raises:
            SearchParamError: on a request no index could answer (no query text for BM25).
            ShardUnavailable: when a shard does not answer within ``timeout_s``.
        """
        t = timings if timings is not None else {}
        qvec = None
        if params.mode in ("dense", "hybrid"):
            normalize = self.spec.hnsw.vectors_normalized
            qvec = self.queries.vector(query, vector, params, self.spec.dim, normalize, t)
        asking = [i for i in range(len(self.shards)) if missing is None or i not in missing]
        terms: list[str] = []
        stats: TermStats | None = None
        versions: list[str] | None = None
        if params.mode in ("bm25", "hybrid"):
            if not query or not query.strip():
                raise SearchParamError(f"mode {params.mode!r} needs a non-empty text query")
            terms = analyzed_terms(query, self.spec.bm25.field)
            stats, versions, asking = self._term_stats(query, terms, asking, missing, t)
        t0 = time.perf_counter()
        asked = replace(params, budget=None)  # the budget is spent once, on the page
        ranks, chars = (
            (inline_ranks(params.top, len(self.shards)), INLINE_CHARS)
            if params.fetch_docs
            else (0, 0)
        )
        for attempt in range(STALE_RETRIES + 1):
            if attempt == STALE_RETRIES:
                versions = None  # the shards keep changing: score with what was last counted
            refs = [
                self.shards[i].retrieve.remote(
                    pack(
                        (query, qvec, asked, stats, versions[j] if versions else None, ranks, chars)
                    )
                )
                for j, i in enumerate(asking)
            ]
            answers = [(i, unpack(a)) for i, a in self._ask(refs, asking, missing)]
            stale = [(i, a) for i, a in answers if a.stale]
            if not stale:
                break
            self._learn(stale)
            asking = [i for i, _ in answers]
            stats, versions, asking = self._term_stats(query or "", terms, asking, missing, t)
        parts = answers  # none stale: the last try sends no version
        t["retrieve_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        lists: dict[str, Ranked] = {}
        for name in ("bm25", "dense") if params.mode == "hybrid" else (params.mode,):
            depth = params.top if params.mode == name else params.candidate_depth
            merged = merge_ranked([a.lists[name] for _, a in parts], depth)
            lists[name] = adjust_ties(merged) if name == "bm25" else merged
        for i, a in parts:
            for key, ms in a.timings.items():
                t[f"shard{i}_{key}"] = ms
        fused, weights = fuse(lists, params)
        t["fusion_ms"] = (time.perf_counter() - t0) * 1000
        docs: dict[str, tuple[str, dict[str, Any]]] = {}
        if params.fetch_docs:
            t0 = time.perf_counter()
            page = [f.docid for f in fused]
            inline = {d: raw for _, a in parts for d, raw in a.docs.items()}
            rest = [d for d in page if d not in inline]
            docs = {d: stored_fields(inline[d]) for d in page if d in inline}
            docs.update(self.fetch(rest) if rest else {})
            _spend(params.budget, sum(_chars(text, meta) for text, meta in docs.values()))
            t["fetch_ms"] = (time.perf_counter() - t0) * 1000
        return to_hits(fused, docs, weights, params)

    def _term_stats(
        self,
        query: str,
        terms: list[str],
        asking: list[int],
        missing: list[int] | None,
        t: dict[str, float],
    ) -> tuple[TermStats, list[str] | None, list[int]]:
        """The collection's statistics of the query's ``terms`` over the shards ``asking``,
        the version each shard's part was counted at, and the shards that answered: from the
        cache, or asked of the shards (and learned) when it lacks any."""
        known = self._stats.total(terms, asking)
        if known is not None:
            return known[0], known[1], asking
        t0 = time.perf_counter()
        refs = [self.shards[i].term_stats.remote(query) for i in asking]
        told = self._ask(refs, asking, missing)
        self._learn(told)
        asking = [i for i, _ in told]
        known = self._stats.total(terms, asking)
        t["stats_ms"] = t.get("stats_ms", 0.0) + (time.perf_counter() - t0) * 1000
        if known is not None:
            return known[0], known[1], asking
        # the shards' analysis gave other terms than the router's: use what they said, unchecked
        return TermStats.total(a.stats for _, a in told if a.stats is not None), None, asking

    def _ask(
        self, refs: list[Any], shards: list[int], missing: list[int] | None
    ) -> list[tuple[int, Any]]:
        """The answers to ``refs`` (a call to each of ``shards``, in order) of the shards that
        gave one, with their numbers (see :meth:`_gather_some`)."""
        answers = self._gather_some(refs, missing, numbers=shards)
        return [(i, a) for i, a in zip(shards, answers, strict=True) if a is not None]

    def _learn(self, answers: list[tuple[int, ShardAnswer]]) -> None:
        for i, a in answers:
            if a.stats is not None:
                self._stats.learn(i, a.version, a.stats)

    def fetch(
        self, ids: Sequence[str], budget: TextBudget | None = None
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """Stored text and metadata by id, from the shards that hold them.

        Raises:
            ResponseTooLarge: when they do not all fit in ``budget``.
        """
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for part in self._per_shard(ids, lambda s, part: s.fetch.remote(part)):
            found.update(part)
        _spend(budget, sum(_chars(t, m) for t, m in found.values()))
        return found

    def get(
        self, ids: Sequence[str], with_vectors: bool = False, budget: TextBudget | None = None
    ) -> list[DocOut]:
        """Stored documents by id, in the order asked; absent ids are left out.

        Raises:
            ResponseTooLarge: when they do not all fit in ``budget``.
        """
        docs = self._get(ids, with_vectors)
        _spend(budget, sum(_chars(d.text, d.metadata) for d in docs))
        return docs

    def _get(self, ids: Sequence[str], with_vectors: bool) -> list[DocOut]:
        by_id = {
            d.id: d
            for part in self._per_shard(ids, lambda s, part: s.get.remote(part, with_vectors))
            for d in part
        }
        return [by_id[i] for i in ids if i in by_id]

    def find(
        self,
        filter_json: str | None,
        limit: int,
        with_vectors: bool = False,
        after: str | None = None,
        budget: TextBudget | None = None,
    ) -> tuple[list[DocOut], str | None]:
        """One page of the documents matching a filter (None: any), in id order across every
        shard: up to ``limit`` after the id ``after`` (fewer where ``budget`` runs out, never
        none while any is left), and the id to pass as ``after`` for the next page (None on
        the last)."""
        parts = self._gather(
            [s.ids_after.remote(filter_json, limit + 1, after) for s in self.shards]
        )
        ids = sorted(i for part in parts for i in part)[: limit + 1]
        more = len(ids) > limit
        docs = self._get(ids[:limit], with_vectors)
        if budget is not None:
            kept = 0
            for d in docs:
                chars = _chars(d.text, d.metadata)
                if kept and chars > budget.left:
                    more = True
                    break
                budget.spend(chars)
                kept += 1
            docs = docs[:kept]
        return docs, docs[-1].id if more and docs else None

    def count(self) -> int:
        """Live documents over every shard."""
        return sum(self._gather([s.count.remote() for s in self.shards]))

    def shard_counts(self) -> list[int]:
        """Live documents in each shard, in shard order."""
        return self._gather([s.count.remote() for s in self.shards])

    def size_bytes(self) -> int:
        return sum(self._gather([s.size_bytes.remote() for s in self.shards]))

    def shard_status(self) -> list[dict[str, Any]]:
        """Each shard: its number, whether it answered within a few seconds, its documents
        and its JVM's heap."""
        missing: list[int] = []
        told = self._gather_some(
            [s.status.remote() for s in self.shards], missing, min(self.timeout_s, 2.0)
        )
        return [
            {"shard": i, "up": st is not None, **(st or {"documents": 0})}
            for i, st in enumerate(told)
        ]

    def maybe_commit(self) -> None:
        """Nothing to do: each shard commits on its own timer."""

    def close(self, why: str | None = None) -> None:
        """Stop serving through this router; the shards keep running for other routers (they
        commit on their own timer, and their logs hold every acknowledged write)."""
        self._gone = why or f"collection '{self.name}' is closed"

    def pids(self) -> list[int]:
        """Each shard actor's process id, in shard order."""
        return self._gather([s.pid.remote() for s in self.shards])

    def embed(self, texts: Sequence[str], input_type: str = "query") -> np.ndarray:
        """Embed texts with the collection's encoder (queries or documents)."""
        if self.encoder is None:
            raise EncoderError(f"collection '{self.name}' has no server-side encoder")
        if input_type == "document":
            return self.encoder.encode_documents(list(texts))
        return self.encoder.encode_queries(list(texts))

    # -- writes -------------------------------------------------------------------------------

    def upsert(self, docs: Sequence[DocIn]) -> int:
        """Add or replace documents by id in their shards; durable and visible on return.

        Raises:
            DocumentError: a document is invalid (nothing was written).
            ShardUnavailable: a shard did not answer: the parts of other shards may be
                written; retry the batch (writes are idempotent by id).
        """
        vectors = vectors_for(
            docs, self.spec.dim, self.spec.hnsw.vectors_normalized, self.encoder, self.name
        )
        groups = by_shard([d.id for d in docs], self.spec.shards)
        refs = [
            self.shards[s].upsert.remote([docs[i] for i in pos], vectors[pos])
            for s, pos in groups.items()
        ]
        return sum(self._gather(refs, "; retry the batch: writes are idempotent by id"))

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id (absent ids ignored); durable and visible on return."""
        self._per_shard(list(ids), lambda s, part: s.delete.remote(part))
        return len(ids)

    def delete_where(self, filter_json: str | None) -> int:
        """Delete every document matching a filter (None: all) in every shard; how many."""
        return sum(self._gather([s.delete_where.remote(filter_json) for s in self.shards]))
