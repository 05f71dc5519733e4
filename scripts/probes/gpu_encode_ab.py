"""The GPU encoding check, all-MiniLM-L6-v2 fp16 over the MS MARCO pool (x4 = 120,020 passages).

In one process, with the model's plain forward (2-D mask: transformers' padding_mask.all()
waits for the GPU every batch) and with the 4-D mask (stream.forward): GPU syncs per call,
forward-only (global sort; the pipeline's own batches), the encode_documents pipeline and the
index build's encode stage, each with where its time went (stream.Clock: waiting for the
tokenizer, launching, finishing). Then, each in a fresh process, the 4-D pipeline beside the
forward with nanotoken's thread pool (rayon's global pool, sized once per process) at every
core and at fewer: while a window is tokenized its threads take every core, the launching
thread's too, so if they slow the launches, the loss (which grows with the passages tokenized,
not the batches) shrinks with fewer threads. Then bench encode's own rows. Writes
$OUT/results.json after each step so a timeout keeps what finished. DEV=cpu N=300: a dry run
off the GPU.

Usage: python scripts/probes/gpu_encode_ab.py COLLECTION.tsv OUTDIR
(``--rayon-row DEVICE`` is the fresh process's own entry: passages on stdin, one JSON row out.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from lucene_hybrid.bench import encode as bench_encode
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder


def forward_and_pipeline(enc: HuggingFaceEncoder, texts: list[str]) -> dict[str, Any]:
    """The forward alone and the encode_documents pipeline, and where the pipeline's time went."""
    forward = bench_encode.forward_docs_per_s(enc, texts)
    pipeline, split, _ = bench_encode.pipeline_docs_per_s(enc, texts)
    return {
        "forward_global_sort": round(forward),
        "pipeline": round(pipeline),
        "pipeline_split": split,
        "pipeline/forward": round(pipeline / forward, 3),
    }


if sys.argv[1] == "--rayon-row":  # in a fresh process, under the parent's RAYON_NUM_THREADS
    texts = json.loads(sys.stdin.read())
    enc = HuggingFaceEncoder(EncoderSpec(precision="auto"), device=sys.argv[2])
    enc.encode_documents(texts)  # warm every shape
    print(json.dumps(forward_and_pipeline(enc, texts)))
    sys.exit(0)

collection, out = Path(sys.argv[1]), Path(sys.argv[2])
DEV = os.environ.get("DEV", "cuda")
N = int(os.environ.get("N", "0")) or None
results: dict[str, object] = {}


def save(key: str, value: object) -> None:
    results[key] = value
    print(key, json.dumps(value), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))


with open(collection, encoding="utf-8") as fh:
    passages = [line.rstrip("\n").split("\t", 1) for line in fh][:N]
texts = [t for _, t in passages] * 4
gpu = DEV == "cuda"
save(
    "setup",
    {
        "gpu": torch.cuda.get_device_name(0) if gpu else "cpu",
        "torch": torch.__version__,
        "passages": len(texts),
    },
)

enc = HuggingFaceEncoder(EncoderSpec(precision="auto"), device=DEV)
save("mask_4d_chosen", enc.mask_4d)
enc.encode_documents(texts)  # warm every shape

for rnd in range(2):
    for m4 in (False, True):
        enc._mask_4d = m4
        tag = f"{'4d' if m4 else 'plain'}_{rnd}"
        if gpu and rnd == 0:
            torch.cuda.set_sync_debug_mode("warn")
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                enc.encode_documents(texts[:8192])
            torch.cuda.set_sync_debug_mode(0)
            save(f"syncs_per_8192_call_{tag}", [len(w)] + [str(x.message)[:120] for x in w[:2]])
        row = forward_and_pipeline(enc, texts)
        forward, pipeline = row["forward_global_sort"], row["pipeline"]
        own = bench_encode.forward_docs_per_s(enc, texts, own_batches=True)
        stage = bench_encode.index_stage(enc, [t for _, t in passages], copies=8)
        row |= {
            "forward_own_batches": round(own),
            "index_stage": stage["docs_s"],
            "index_stage_split": stage["split"],
            "pipeline/own_batches": round(pipeline / own, 3),
            "index/forward": round(stage["docs_s"] / forward, 3),
        }
        save(tag, row)

# The pipeline with nanotoken's pool at every core, leaving two (the launching and the batching
# thread), and at four (one core tokenizes 100,000+ passages/s): in fresh processes, since rayon
# reads RAYON_NUM_THREADS once.
cores = os.cpu_count() or 1
for threads in [n for n in dict.fromkeys((cores, cores - 2, 4)) if 1 <= n <= cores]:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    done = subprocess.run(
        [sys.executable, __file__, "--rayon-row", DEV],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    row = json.loads(lines[-1]) if done.returncode == 0 and lines else {"error": done.stderr[-600:]}
    save(f"4d_rayon_{threads}_threads", row)

# bench encode's own rows (the mask chosen by the encoder), as scripts/probes/bench_gpu.sh runs
# them.
for batch in (512, 1024):
    r = bench_encode.encode(
        texts,
        model="all-MiniLM-L6-v2",
        precisions=["auto"],
        batch_size=batch,
        compare_st=False,
        device=DEV,
    )
    save(f"bench_encode_fp16_b{batch}", r["rows"])
r = bench_encode.encode(
    texts[: len(passages)],
    model="all-MiniLM-L6-v2",
    precisions=["fp32", "auto", "bf16"],
    compare_st=True,
    device=DEV,
)
save("bench_encode_precisions", r["rows"])
