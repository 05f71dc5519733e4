"""Paired comparisons of two systems over the same queries: t-test and wins/losses."""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class Comparison:
    """System vs. baseline on one metric."""

    delta: float
    p_value: float
    wins: int
    losses: int
    ties: int

    def mark(self, alpha: float = 0.05) -> str:
        """'+' significantly better, '-' significantly worse, '' otherwise."""
        if self.p_value < alpha:
            return "+" if self.delta > 0 else "-"
        return ""


def paired_test(system: dict[str, float], baseline: dict[str, float]) -> Comparison:
    """Two-sided paired t-test over the queries both have (Smucker et al., CIKM 2007)."""
    qids = sorted(set(system) & set(baseline))
    a = [system[q] for q in qids]
    b = [baseline[q] for q in qids]
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    wins = sum(d > 1e-12 for d in diffs)
    losses = sum(d < -1e-12 for d in diffs)
    if not qids or all(abs(d) < 1e-12 for d in diffs):
        p = 1.0
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
    delta = sum(diffs) / len(diffs) if diffs else 0.0
    return Comparison(delta, p, wins, losses, len(qids) - wins - losses)
