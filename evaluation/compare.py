"""Before/after: the same configurations on two indexes of one corpus, with paired tests.

For a model change (a fine-tuned encoder, a new model) the question is not "is hybrid better
than BM25" but "is each configuration better on the new index than on the old one, per query".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lucene_hybrid.evaluation.experiment import Retriever, Split
from lucene_hybrid.evaluation.metrics import evaluate
from lucene_hybrid.evaluation.runner import Config, make_run
from lucene_hybrid.evaluation.significance import paired_test


def compare_indexes(
    before: Retriever,
    after: Retriever,
    split: Split,
    *,
    configs: Sequence[str] = ("bm25", "dense", "default"),
    metrics: Sequence[str] = ("nDCG@10", "R@100"),
    k: int = 1000,
    relevance_level: int = 1,
) -> dict[str, Any]:
    """Evaluate each configuration on both indexes; test after vs. before per query."""
    parsed = [Config.parse(c) for c in configs]
    need_dense = any(c.mode != "bm25" for c in parsed)
    depth = max([k, *(c.depth for c in parsed)])
    cands = {
        "before": before.candidates(split.topics, depth, need_dense),
        "after": after.candidates(split.topics, depth, need_dense),
    }
    rows = []
    for cfg in parsed:
        ev = {
            side: evaluate(
                make_run(cfg, cands[side], k), split.qrels, tuple(metrics), relevance_level
            )
            for side in ("before", "after")
        }
        cells = {}
        for m in metrics:
            c = paired_test(ev["after"].per_query[m], ev["before"].per_query[m])
            cells[m] = {
                "before": ev["before"].mean[m],
                "after": ev["after"].mean[m],
                "delta": c.delta,
                "p_value": c.p_value,
                "wins": c.wins,
                "losses": c.losses,
                "mark": c.mark(),
            }
        rows.append({"name": cfg.name, "metrics": cells})
    queries = len(next(iter(ev.values())).per_query[metrics[0]]) if parsed else 0
    return {"queries": queries, "k": k, "metrics": list(metrics), "rows": rows}


def markdown(result: dict[str, Any], before: str, after: str) -> str:
    """The comparison as a Markdown table."""
    lines = [
        f"Before: `{before}`; after: `{after}`; {result['queries']} judged queries, "
        f"k={result['k']}. p: two-sided paired t-test over queries; W/L: queries better/worse "
        "after; `+`/`-`: significant at p < 0.05.",
        "",
        "| configuration | metric | before | after | Δ | p | W/L |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        for m, c in row["metrics"].items():
            lines.append(
                f"| {row['name']} | {m} | {c['before']:.4f} | {c['after']:.4f}{c['mark']} | "
                f"{c['delta']:+.4f} | {c['p_value']:.2g} | {c['wins']}/{c['losses']} |"
            )
    return "\n".join(lines) + "\n"
