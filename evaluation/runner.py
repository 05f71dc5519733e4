"""Run configurations over an index: retrieve each retriever's candidates once, fuse many ways."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.evaluation.metrics import Run
from lucene_hybrid.evaluation.runfile import ranked_scores
from lucene_hybrid.search import fusion
from lucene_hybrid.search.hybrid import HybridSearcher
from lucene_hybrid.search.types import (
    DEFAULT_ALPHA,
    DEFAULT_FUSION,
    DEFAULT_NORMALIZATION,
    Scored,
    SearchParamError,
    SearchParams,
    check_rrf,
)

Lists = dict[str, Sequence[Scored]]  # retriever -> ranked candidates


@dataclass(frozen=True)
class Config:
    """One way to rank: a single retriever, or a fusion of both with its parameters."""

    name: str
    mode: str  # bm25 | dense | hybrid
    fusion: str = "rrf"
    rrf_k: float = 60.0
    weights: tuple[float, float] = (1.0, 1.0)
    alpha: float = 0.5
    normalization: str = "minmax"
    depth: int = 100

    @staticmethod
    def parse(spec: str) -> Config:
        """Parse ``bm25``, ``dense``, ``default``, ``rrf[:k=60][:w=1,1][:depth=100]`` or
        ``linear[:alpha=0.5][:norm=minmax|zscore][:depth=100]``.

        Raises:
            LuceneHybridError: on an unknown name or parameter.
        """
        head, *opts = spec.strip().split(":")
        if head == "default":  # the product's default fusion
            return Config(
                spec,
                "hybrid",
                fusion=DEFAULT_FUSION,
                alpha=DEFAULT_ALPHA,
                normalization=DEFAULT_NORMALIZATION,
            )
        if head in ("bm25", "dense"):
            if opts:
                raise LuceneHybridError(f"{spec!r}: {head} takes no parameters")
            return Config(spec, head)
        if head not in ("rrf", "linear"):
            raise LuceneHybridError(f"unknown configuration {spec!r}: use bm25, dense, rrf, linear")
        cfg = Config(spec, "hybrid", fusion=head)
        for opt in opts:
            key, _, value = opt.partition("=")
            try:
                if key == "k" and head == "rrf":
                    cfg = replace(cfg, rrf_k=float(value))
                elif key == "w" and head == "rrf":
                    w_bm25, w_dense = (float(x) for x in value.split(","))
                    cfg = replace(cfg, weights=(w_bm25, w_dense))
                elif key == "alpha" and head == "linear":
                    cfg = replace(cfg, alpha=float(value))
                elif key == "norm" and head == "linear" and value in ("minmax", "zscore"):
                    cfg = replace(cfg, normalization=value)
                elif key == "depth":
                    cfg = replace(cfg, depth=int(value))
                else:
                    raise ValueError
            except ValueError:
                raise LuceneHybridError(f"{spec!r}: bad parameter {opt!r}") from None
        try:  # the values a search accepts: k >= 0, weights >= 0, alpha in [0, 1], ...
            SearchParams(
                mode="hybrid",
                fusion=cfg.fusion,  # type: ignore[arg-type]
                rrf_k=cfg.rrf_k,
                weights=cfg.weights,
                alpha=cfg.alpha,
                normalization=cfg.normalization,  # type: ignore[arg-type]
                depth=cfg.depth,
            )
        except SearchParamError as exc:
            raise LuceneHybridError(f"{spec!r}: {exc}") from None
        return cfg


def check_hits(k: int) -> None:
    """Hits per query in a run: at least one."""
    if k < 1:
        raise LuceneHybridError(f"k must be at least 1 (hits per query), got {k}")


def retrieve(
    searcher: HybridSearcher,
    topics: Mapping[str, str],
    depth: int,
    *,
    dense: bool = True,
    threads: int = 2,
) -> dict[str, Lists]:
    """BM25 and (optionally) dense candidates for every topic, ``depth`` deep."""
    qids = list(topics)
    texts = [topics[q] for q in qids]
    vectors = list(searcher.query_vectors(texts)) if dense else [None] * len(qids)
    k1, b = searcher.manifest.bm25.k1, searcher.manifest.bm25.b
    dense_params = SearchParams(mode="dense", k=depth, fetch_docs=False)

    def one(i: int) -> Lists:
        lists: Lists = {
            "bm25": searcher.bm25.search(texts[i], depth, k1, b) if texts[i].strip() else []
        }
        vec = vectors[i]
        if vec is not None and searcher.dense is not None:  # as a search with defaults does it
            hits = searcher.search(None, dense_params, vector=vec)
            lists["dense"] = [Scored(h.docid, h.score) for h in hits]
        return lists

    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
        results = list(pool.map(one, range(len(qids))))
    return dict(zip(qids, results, strict=True))


class LocalRetriever:
    """Candidates from an index opened in this process."""

    def __init__(self, searcher: HybridSearcher, threads: int = 2):
        self.searcher = searcher
        self.threads = threads
        self.has_dense = searcher.encoder is not None and searcher.dense is not None

    def candidates(self, topics: Mapping[str, str], depth: int, dense: bool) -> dict[str, Lists]:
        return retrieve(self.searcher, topics, depth, dense=dense, threads=self.threads)


class RemoteRetriever:
    """Candidates from a collection on a running `lucene-hybrid serve`, via batch search."""

    BATCH = 100

    def __init__(self, url: str, collection: str, api_key: str | None = None, client: Any = None):
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=300
        )
        self._path = f"/v1/collections/{collection}"
        info = self._get(self._path)
        self.has_dense = info["manifest"]["encoder"]["kind"] != "precomputed"

    def _get(self, path: str) -> dict:
        r = self._client.get(path)
        if r.status_code != 200:
            raise LuceneHybridError(f"GET {path}: {r.status_code} {r.text[:300]}")
        return r.json()  # type: ignore[no-any-return]

    def _search(self, searches: list[dict]) -> list[list[Scored]]:
        out: list[list[Scored]] = []
        for i in range(0, len(searches), self.BATCH):
            r = self._client.post(
                f"{self._path}/search/batch", json={"searches": searches[i : i + self.BATCH]}
            )
            if r.status_code != 200:
                raise LuceneHybridError(f"batch search: {r.status_code} {r.text[:300]}")
            for res in r.json()["results"]:
                out.append([Scored(h["id"], h["score"]) for h in res["hits"]])
        return out

    def candidates(self, topics: Mapping[str, str], depth: int, dense: bool) -> dict[str, Lists]:
        qids = [q for q in topics if topics[q].strip()]
        common = {"k": depth, "include_text": False}
        bm25 = self._search([{"query": topics[q], "mode": "bm25", **common} for q in qids])
        result: dict[str, Lists] = {q: {"bm25": []} for q in topics}
        for q, hits in zip(qids, bm25, strict=True):
            result[q]["bm25"] = hits
        if dense and self.has_dense:
            searches = [{"query": topics[q], "mode": "dense", **common} for q in qids]
            for q, hits in zip(qids, self._search(searches), strict=True):
                result[q]["dense"] = hits
        return result


def rank(config: Config, lists: Lists, k: int) -> list[tuple[str, float]]:
    """The top ``k`` (docid, score) of one query under a configuration."""
    if config.mode in ("bm25", "dense"):
        return [(h.docid, h.score) for h in lists.get(config.mode, [])[:k]]
    depth = max(config.depth, k)  # as the server does: never fewer candidates than k
    cut = {name: hits[:depth] for name, hits in lists.items()}
    if config.fusion == "rrf":
        w_bm25, w_dense = config.weights
        fused = fusion.rrf(cut, k=config.rrf_k, weights={"bm25": w_bm25, "dense": w_dense})
    else:
        if "bm25" in cut:  # as the server does (its ties are ties, not a spread)
            cut["bm25"] = fusion.untie_bm25(cut["bm25"])
        fused = fusion.linear(
            cut,
            {"bm25": 1.0 - config.alpha, "dense": config.alpha},
            normalization=config.normalization,  # type: ignore[arg-type]
        )
    return [(f.docid, f.score) for f in fused[:k]]


def make_run(config: Config, candidates: Mapping[str, Lists], k: int) -> Run:
    """``{qid: {docid: score}}`` for every topic, with scores strictly decreasing by rank."""
    return {qid: ranked_scores(rank(config, lists, k)) for qid, lists in candidates.items()}


def fuse_runs(
    runs: Sequence[Run],
    method: str,
    k: int,
    *,
    rrf_k: float = 60.0,
    weights: Sequence[float] | None = None,
    normalization: str = "minmax",
) -> Run:
    """Fuse existing runs (e.g. other systems' TREC runs) query by query.

    ``weights`` are per run (RRF weights, or linear weights, normalized to sum to 1 for linear).
    """
    n = len(runs)
    w = list(weights) if weights else [1.0] * n
    if len(w) != n:
        raise LuceneHybridError(f"{len(w)} weights for {n} runs")
    check_rrf(rrf_k, w)  # as a search's
    check_hits(k)
    names = [f"run{i}" for i in range(n)]
    out: Run = {}
    for qid in sorted({q for r in runs for q in r}):
        lists = {
            name: [
                Scored(d, s)
                for d, s in sorted(r.get(qid, {}).items(), key=lambda kv: (-kv[1], kv[0]))
            ]
            for name, r in zip(names, runs, strict=True)
        }
        if method == "rrf":
            fused = fusion.rrf(lists, k=rrf_k, weights=dict(zip(names, w, strict=True)))
        elif method == "linear":
            total = sum(w) or 1.0
            fused = fusion.linear(
                lists,
                {nm: x / total for nm, x in zip(names, w, strict=True)},
                normalization=normalization,  # type: ignore[arg-type]
            )
        else:
            raise LuceneHybridError(f"unknown fusion method {method!r}: use rrf or linear")
        out[qid] = ranked_scores([(f.docid, f.score) for f in fused[:k]])
    return out
