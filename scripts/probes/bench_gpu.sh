#!/usr/bin/env bash
# The encoding benchmark on a GPU (issue #6): all-MiniLM-L6-v2 over MS MARCO passages, the
# forward alone beside the pipeline that `index` runs, fp16 at two batch sizes (and at 512 with
# the tokenizers library in processes instead of nanotoken), then fp32 / fp16 / bf16 side by
# side with sentence-transformers' encode() as the baseline.
#
# Usage: scripts/probes/bench_gpu.sh COLLECTION [OUTDIR] [MODEL]
#   COLLECTION  MS MARCO passages as id<TAB>text (e.g. the 30,005-passage pool's collection.tsv)
#   OUTDIR      where the JSON and Markdown tables go (default results/gpu)
#   MODEL       default all-MiniLM-L6-v2 (the bundled weights)
# LH names the command that runs the CLI (default: lucene-hybrid).
set -euo pipefail
corpus=${1:?usage: scripts/probes/bench_gpu.sh COLLECTION [OUTDIR] [MODEL]}
out=${2:-results/gpu}
model=${3:-all-MiniLM-L6-v2}
lh=${LH:-lucene-hybrid}
mkdir -p "$out"
nvidia-smi -L || echo "nvidia-smi not found: is there a GPU?"
for batch in 512 1024; do
    $lh bench encode --corpus "$corpus" --limit 40000 --repeat 4 --model "$model" \
        --precisions auto --batch-size "$batch" --no-st-encode \
        --label "fp16, batch $batch" --output "$out/encode-fp16-b$batch"
done
$lh bench encode --corpus "$corpus" --limit 40000 --repeat 4 --model "$model" \
    --precisions auto --batch-size 512 --no-st-encode --tokenizer tokenizers \
    --label "fp16, batch 512, tokenizers" --output "$out/encode-fp16-b512-tokenizers"
$lh bench encode --corpus "$corpus" --limit 40000 --repeat 1 --model "$model" \
    --precisions fp32,auto,bf16 --label "precisions" --output "$out/encode-precisions"
