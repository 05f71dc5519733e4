#!/usr/bin/env bash
# What bf16 and int8 encoding cost in quality: index a BEIR dataset at fp32, re-encode copies
# at bf16 and int8 (`reindex --precision`, queries follow the index), and compare each with
# fp32 on the test queries (nDCG@10, R@100, paired t-test). Speed: `lucene-hybrid bench encode`.
# Usage: scripts/probes/bench_precision.sh BEIR_DIR WORK_DIR   (e.g. ../shared/data/beir-scifact)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
data="$1"
work="$2"
lh="${LUCENE_HYBRID_VENV:-$root/.venv}/bin/lucene-hybrid"
export OPENAI_API_KEY="${OPENAI_API_KEY:-unused}"  # importing pyserini.search wants one
mkdir -p "$work"
[ -d "$work/fp32" ] || "$lh" index "$data/corpus.jsonl" --index "$work/fp32" --precision fp32 \
    --quiet --report "$work/fp32-build"
for p in bf16 int8; do
  rm -rf "$work/$p" && cp -a "$work/fp32" "$work/$p"
  "$lh" reindex --index "$work/$p" --precision "$p" --quiet
  "$lh" compare --before "$work/fp32" --after "$work/$p" --topics "$data/queries.jsonl" \
      --qrels "$data/qrels/test.tsv" --configs dense,default --output "$work/compare-$p.md"
done
