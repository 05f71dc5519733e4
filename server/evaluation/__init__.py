"""Offline evaluation: topics/qrels formats, trec_eval metrics, significance, sweeps, reports."""
