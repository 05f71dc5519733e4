"""Offline evaluation: topics, qrels and run files, trec_eval metrics, significance, presets,
sweeps and reports."""

from __future__ import annotations

from lucene_hybrid.evaluation.experiment import Split, run_experiment
from lucene_hybrid.evaluation.formats import Qrels, read_qrels, read_topics
from lucene_hybrid.evaluation.metrics import Evaluation, evaluate
from lucene_hybrid.evaluation.presets import Preset, load_preset, preset_names
from lucene_hybrid.evaluation.runfile import read_run, write_run, write_scored_run
from lucene_hybrid.evaluation.significance import paired_test

__all__ = [
    "Evaluation",
    "Preset",
    "Qrels",
    "Split",
    "evaluate",
    "load_preset",
    "paired_test",
    "preset_names",
    "read_qrels",
    "read_run",
    "read_topics",
    "run_experiment",
    "write_run",
    "write_scored_run",
]
