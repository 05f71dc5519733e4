"""Issue #6's GPU check, all-MiniLM-L6-v2 fp16 over the MS MARCO pool (x4 = 120,020 passages).

In one process, with the model's plain forward (2-D mask: transformers' padding_mask.all()
waits for the GPU every batch) and with the 4-D mask (stream.forward): GPU syncs per call,
forward-only (global sort; the pipeline's own batches), the encode_documents pipeline, the
index build's encode stage. Then bench encode's own rows. Writes $OUT/results.json after each
step so a timeout keeps what finished. DEV=cpu N=300: a dry run off the GPU.

Usage: python scripts/gpu_encode_ab.py COLLECTION.tsv OUTDIR
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from lucene_hybrid.indexing import build
from lucene_hybrid.indexing.encoders import EncoderSpec, stream
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder
from lucene_hybrid.server import bench_encode

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
tok = enc.fast_tokenizer
save("mask_4d_chosen", enc.mask_4d)
inputs = [enc.spec.passage_prefix + t for t in texts]
enc.encode_documents(texts)  # warm every shape

global_sort = list(
    stream.token_batches(
        tok,
        inputs,
        enc.batch_size,
        len(inputs),
        ramp=False,
        multiple=stream.GPU_MULTIPLE if gpu else 1,
    )
)
own = list(stream.pipeline_batches(tok, inputs, enc.batch_size, gpu=gpu))

with tempfile.TemporaryDirectory() as tmp:
    staged = build._ShardWriter(Path(tmp) / "docs", "docs")
    for i, (_, text) in enumerate(passages * 8):
        staged.write(json.dumps({"id": str(i), "contents": text}, ensure_ascii=False))
    staged.close()
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
            row = {}
            for name, batches in (("global_sort", global_sort), ("own_batches", own)):
                feats = [stream.features(tok, b, DEV) for b in batches]
                with torch.inference_mode():
                    for f in feats[:8]:
                        stream.forward(enc.model, f, m4)
                    bench_encode._sync(DEV)
                    t0 = time.perf_counter()
                    for f in feats:
                        stream.forward(enc.model, f, m4)
                    bench_encode._sync(DEV)
                row[f"forward_{name}"] = round(len(inputs) / (time.perf_counter() - t0))
                del feats
            t0 = time.perf_counter()
            enc.encode_documents(texts)
            row["pipeline"] = round(len(texts) / (time.perf_counter() - t0))
            writer = build.VectorShards(Path(tmp) / f"vectors_{tag}", "vectors")
            docs = build._read_staged(Path(tmp) / "docs", staged.longest)
            t0 = time.perf_counter()
            with tqdm(disable=True) as bar:
                build.encode_to_shards(docs, enc, writer, bar, read_ahead=True)
            writer.close()
            row["index_stage"] = round(staged.count / (time.perf_counter() - t0))
            row["pipeline/forward"] = round(row["pipeline"] / row["forward_global_sort"], 3)
            row["index/forward"] = round(row["index_stage"] / row["forward_global_sort"], 3)
            save(tag, row)

# bench encode's own rows (the mask chosen by the encoder), as scripts/bench_gpu.sh runs them.
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
