#!/usr/bin/env bash
# NFCorpus domain adaptation, end to end, on CPU: index with the base model, fine-tune on the
# train split (BM25 hard negatives, early stopping on dev), re-encode a copy of the index with
# the new model, and compare before/after on the test queries with paired t-tests.
# Usage: examples/finetune_nfcorpus.sh [DATA_DIR (default ../shared/data/beir-nfcorpus)] [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$root/../shared/data/beir-nfcorpus}"
work="${2:-$root/finetune-nfcorpus}"
lh="$root/.venv/bin/lucene-hybrid"
export OPENAI_API_KEY="${OPENAI_API_KEY:-unused}"  # importing pyserini.search wants one
mkdir -p "$work"

[ -d "$work/base" ] || "$lh" index "$data/corpus.jsonl" --index "$work/base" --quiet
time "$lh" finetune --index "$work/base" --queries "$data/queries.jsonl" \
    --qrels "$data/qrels/train.tsv" --dev-qrels "$data/qrels/dev.tsv" --output "$work/model" \
    --per-query 4 --epochs 3 --max-steps 512 --eval-every 128 --max-length 128 --lr 5e-5 \
    --max-minutes 43 --overwrite
rm -rf "$work/tuned" && cp -a "$work/base" "$work/tuned"
"$lh" reindex --index "$work/tuned" --encoder "$work/model" --quiet
"$lh" compare --before "$work/base" --after "$work/tuned" --topics "$data/queries.jsonl" \
    --qrels "$data/qrels/test.tsv" --configs bm25,dense,default,rrf --output "$work/compare.md"
