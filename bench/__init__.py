"""Benchmarks: search latency and QPS, encoding throughput, HTTP load, peers, the cost curve.

Each module measures and reports (JSON and a Markdown table); none asserts a target.
"""

from __future__ import annotations

from lucene_hybrid.bench.common import machine, percentile

__all__ = ["machine", "percentile"]
