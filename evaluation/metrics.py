"""trec_eval metrics through pytrec_eval: per query and averaged like ``trec_eval -c``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytrec_eval

Run = dict[str, dict[str, float]]

# Our name -> pytrec_eval measure and result key.
MEASURES: dict[str, tuple[str, str]] = {
    "MRR@10": ("recip_rank", "recip_rank"),
    "nDCG@10": ("ndcg_cut.10", "ndcg_cut_10"),
    "R@100": ("recall.100", "recall_100"),
    "R@1000": ("recall.1000", "recall_1000"),
    "MAP": ("map", "map"),
    "P@30": ("P.30", "P_30"),
}
DEFAULT_METRICS = ("nDCG@10", "MRR@10", "R@100", "R@1000", "MAP", "P@30")


@dataclass(frozen=True)
class Evaluation:
    """Per-query values and means; every judged query counts (0 when the run has no hits)."""

    per_query: dict[str, dict[str, float]]  # metric -> qid -> value
    mean: dict[str, float]


def _top(ranking: Mapping[str, float], n: int) -> dict[str, float]:
    # trec_eval's order: score descending, ties by docid descending.
    ordered = sorted(ranking.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    return dict(ordered[:n])


def evaluate(
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    relevance_level: int = 1,
) -> Evaluation:
    """Evaluate a run against judgments.

    Args:
        run: ``{qid: {docid: score}}``; queries without judgments are ignored.
        qrels: ``{qid: {docid: grade}}``; a judged query missing from the run scores 0.
        metrics: Names from :data:`MEASURES`.
        relevance_level: Lowest grade counted relevant by binary measures (2 for TREC DL).

    Returns:
        Per-query values and means over all judged queries.
    """
    judged = {q: dict(d) for q, d in qrels.items() if any(g > 0 for g in d.values())}
    per_query: dict[str, dict[str, float]] = {m: dict.fromkeys(judged, 0.0) for m in metrics}
    plain = [m for m in metrics if m != "MRR@10"]
    if plain:
        evaluator = pytrec_eval.RelevanceEvaluator(
            judged, {MEASURES[m][0] for m in plain}, relevance_level=relevance_level
        )
        scored = evaluator.evaluate({q: dict(run[q]) for q in judged if q in run and run[q]})
        for qid, values in scored.items():
            for m in plain:
                per_query[m][qid] = float(values[MEASURES[m][1]])
    if "MRR@10" in metrics:  # MRR@10: reciprocal rank within the top 10 only
        evaluator = pytrec_eval.RelevanceEvaluator(
            judged, {"recip_rank"}, relevance_level=relevance_level
        )
        top10 = {q: _top(run[q], 10) for q in judged if q in run and run[q]}
        for qid, values in evaluator.evaluate(top10).items():
            per_query["MRR@10"][qid] = float(values["recip_rank"])
    n = max(len(judged), 1)
    mean = {m: sum(per_query[m].values()) / n for m in metrics}
    return Evaluation(per_query, mean)
