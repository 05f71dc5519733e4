"""One evaluation: configurations x topics on an index -> runs, metrics, tests, sweeps, report."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.evaluation.formats import Qrels
from lucene_hybrid.evaluation.metrics import Evaluation, evaluate
from lucene_hybrid.evaluation.runfile import write_scored_run
from lucene_hybrid.evaluation.runner import Config, Lists, check_hits, make_run
from lucene_hybrid.evaluation.significance import paired_test

log = logging.getLogger(__name__)

DEFAULT_CONFIGS = ("bm25", "dense", "default", "rrf", "linear")
SWEEP_RRF_K = (1, 5, 10, 20, 40, 60, 100, 200, 500)
SWEEP_ALPHA = tuple(round(0.1 * i, 1) for i in range(11))
SWEEP_DEPTH = (10, 20, 50, 100, 200, 500, 1000)


class Retriever(Protocol):
    """Where candidates come from: an index in this process, or a running server."""

    has_dense: bool

    def candidates(
        self, topics: Mapping[str, str], depth: int, dense: bool
    ) -> dict[str, Lists]: ...


@dataclass(frozen=True)
class Split:
    """Topics and judgments of one query split."""

    name: str
    topics: Mapping[str, str]
    qrels: Qrels


def _score(
    config: Config, cands: Mapping[str, Lists], split: Split, k: int, metric: str, level: int
) -> float:
    return evaluate(make_run(config, cands, k), split.qrels, (metric,), level).mean[metric]


def _curve(
    base: Config,
    field: str,
    values: Sequence[float],
    cands: Mapping[str, Lists],
    split: Split,
    k: int,
    metric: str,
    level: int,
) -> list[tuple[float, float]]:
    out = []
    for v in values:
        cfg = replace(base, **{field: v})  # type: ignore[arg-type]
        # A depth sweep cuts the runs at the depth (the server never fuses fewer than k).
        out.append(
            (v, _score(cfg, cands, split, min(k, int(v)) if field == "depth" else k, metric, level))
        )
    return out


def _check_judgments(split: Split) -> None:
    """Refuse topics none of which the qrels judge (every score would be 0: the wrong qrels, or
    ids spelt differently); warn of judged queries that have no topic (each scores 0)."""
    judged = {q for q, docs in split.qrels.items() if any(g > 0 for g in docs.values())}
    if not judged & set(split.topics):
        raise LuceneHybridError(
            f"{split.name} split: none of the {len(split.topics)} topics has a relevant "
            f"judgment in the qrels (topic ids such as {sorted(split.topics)[:3]}, judged ids "
            f"such as {sorted(judged)[:3]}): are these the qrels of these topics?"
        )
    if missing := judged - set(split.topics):
        log.warning(
            "%s split: %d judged queries have no topic and score 0, e.g. %s",
            split.name,
            len(missing),
            sorted(missing)[:3],
        )


def run_experiment(
    retriever: Retriever,
    test: Split,
    *,
    name: str,
    index: str,
    configs: Sequence[str] = DEFAULT_CONFIGS,
    baseline: str = "bm25",
    metrics: Sequence[str] = ("nDCG@10", "R@100", "R@1000"),
    k: int = 1000,
    relevance_level: int = 1,
    sweep: bool = False,
    tune: Split | None = None,
    out_dir: Path | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Evaluate configurations; write one TREC run per configuration into ``out_dir``.

    Raises:
        LuceneHybridError: on a bad configuration or a baseline not among the configurations.
    """
    check_hits(k)
    _check_judgments(test)
    parsed = [Config.parse(c) for c in configs]
    names = [c.name for c in parsed]
    if baseline not in names:
        raise LuceneHybridError(f"baseline {baseline!r} is not one of the configurations {names}")
    need_dense = any(c.mode != "bm25" for c in parsed)
    if need_dense and not retriever.has_dense:
        raise LuceneHybridError("this index has no query encoder: evaluate with --configs bm25")
    depth = max([k, *(c.depth for c in parsed)] + ([max(SWEEP_DEPTH)] if sweep else []))
    cands = retriever.candidates(test.topics, depth, need_dense)
    metrics = tuple(metrics)
    evals: dict[str, Evaluation] = {}
    for cfg in parsed:
        run = make_run(cfg, cands, k)
        evals[cfg.name] = evaluate(run, test.qrels, metrics, relevance_level)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            safe = cfg.name.replace(":", "_").replace(",", "-").replace("=", "")
            with open(out_dir / f"run.{safe}.trec", "w") as fh:
                write_scored_run(fh, run, f"lucene-hybrid-{safe}")
    rows = []
    for cfg in parsed:
        ev = evals[cfg.name]
        vs = {}
        for m in metrics:
            c = paired_test(ev.per_query[m], evals[baseline].per_query[m])
            vs[m] = {
                "delta": c.delta,
                "p_value": c.p_value,
                "wins": c.wins,
                "losses": c.losses,
                "mark": c.mark() if cfg.name != baseline else "",
            }
        rows.append({"name": cfg.name, "config": cfg.__dict__, "mean": ev.mean, "vs_baseline": vs})
    result: dict[str, Any] = {
        "preset": name,
        "description": description,
        "index": index,
        "k": k,
        "queries": len(next(iter(evals.values())).per_query[metrics[0]]),
        "metrics": list(metrics),
        "baseline": baseline,
        "rows": rows,
    }
    if sweep and need_dense:
        m0 = metrics[0]
        rrf, lin = Config("rrf", "hybrid"), Config("linear", "hybrid", fusion="linear")
        zlin = replace(lin, normalization="zscore")
        level = relevance_level
        result["sweep"] = {
            "rrf k": _curve(rrf, "rrf_k", SWEEP_RRF_K, cands, test, k, m0, level),
            "minmax alpha": _curve(lin, "alpha", SWEEP_ALPHA, cands, test, k, m0, level),
            "zscore alpha": _curve(zlin, "alpha", SWEEP_ALPHA, cands, test, k, m0, level),
            "rrf depth": _curve(rrf, "depth", SWEEP_DEPTH, cands, test, k, m0, level),
        }
    if tune is not None and need_dense:
        result["tuning"] = _tune(retriever, tune, cands, test, k, metrics[0], relevance_level)
    return result


def _tune(
    retriever: Retriever,
    tune: Split,
    test_cands: Mapping[str, Lists],
    test: Split,
    k: int,
    metric: str,
    level: int,
) -> dict[str, Any]:
    """Pick RRF k and linear alpha on the tuning split; report the test score of each choice."""
    topics = {q: t for q, t in tune.topics.items() if q in tune.qrels}
    cands = retriever.candidates(topics, max(k, 100), True)
    split = Split(tune.name, topics, tune.qrels)
    choices = []
    for family, base, field, values in (
        ("rrf", Config("rrf", "hybrid"), "rrf_k", SWEEP_RRF_K),
        ("minmax linear", Config("linear", "hybrid", fusion="linear"), "alpha", SWEEP_ALPHA),
        (
            "zscore linear",
            Config("z", "hybrid", fusion="linear", normalization="zscore"),
            "alpha",
            SWEEP_ALPHA,
        ),
    ):
        curve = _curve(base, field, values, cands, split, k, metric, level)
        best_value, best_score = max(curve, key=lambda xy: xy[1])
        chosen = replace(base, **{field: best_value})  # type: ignore[arg-type]
        choices.append(
            {
                "family": family,
                "param": field,
                "value": best_value,
                "tune_score": best_score,
                "test_score": _score(chosen, test_cands, test, k, metric, level),
            }
        )
    return {"split": tune.name, "queries": len(topics), "metric": metric, "choices": choices}
