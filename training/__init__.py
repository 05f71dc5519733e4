"""Fine-tuning the dense encoder on a collection's own corpus: hard-negative mining, the
training loop, synthetic queries. Uses indexing/, search/ and evaluation/; never server/."""

from __future__ import annotations

from lucene_hybrid.training.finetune import FinetuneResult, TrainOptions, finetune
from lucene_hybrid.training.mining import MiningOptions, mine_hard_negatives
from lucene_hybrid.training.querygen import QueryGenOptions, generate_training_split

__all__ = [
    "FinetuneResult",
    "MiningOptions",
    "QueryGenOptions",
    "TrainOptions",
    "finetune",
    "generate_training_split",
    "mine_hard_negatives",
]
