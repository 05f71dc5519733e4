"""How much of a GPU's forward the encoding pipeline would keep, simulated on this machine.

No GPU is needed: a stand-in model replaces the forward. Per batch it holds the GIL for
--launch-ms (the Python that launches a forward's kernels), then "runs" asynchronously for a
time proportional to the batch's tokens, padding included, with at most --ahead batches queued
(the CUDA launch queue); a call ends waiting for it (the copy back). Its speed per token is set
so that the 40,000 passages sorted by length as a whole (``bench encode``'s forward-only
measure: the least padding) run at --forward passages/s (default: the H100 fp16 forward of
all-MiniLM-L6-v2 in the README, 81,784/s). Everything else is real: the model's tokenizer
(nanotoken), the tokenize-ahead thread and batching, and for the index stage the staged
JsonCollection shards read back by Arrow and the vectors written to Parquet.

Prints the passages/s of each path as a share of that forward-only rate, as ``bench encode``
reports pipeline/forward: ``bench encode``'s pipeline (one call of 40,000 passages, four times)
and an index build's encode stage (every passage --copies times over, in the calls ``index``
makes; its first window's read and last window's write overlap nothing, so a small input
understates the steady state). A GPU host's spare cores are not simulated: on a 2-core machine
the reader, writer and tokenizer threads compete for them.

Usage: python scripts/probes/simulate_gpu_encode.py COLLECTION.tsv [--forward N] [--copies N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from lucene_hybrid.bench import encode as bench_encode
from lucene_hybrid.indexing.encoders import EncoderSpec, stream
from lucene_hybrid.indexing.encoders.hf import GPU_BATCH, HuggingFaceEncoder


class StandInGPU:
    """An encoder whose forward is simulated; its tokenizing and batching are the real ones."""

    def __init__(self, tok: stream.FastTokenizer, token_s: float, launch_ms: float, ahead: int):
        self.tok, self.token_s, self.launch, self.ahead = tok, token_s, launch_ms / 1e3, ahead
        self.batch_size, self.dim = GPU_BATCH, 384
        self.call_size = stream.window_size(GPU_BATCH, gpu=True)  # as HuggingFaceEncoder's

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        batches = stream.pipeline_batches(self.tok, texts, self.batch_size, gpu=True)
        free_at, queued = time.perf_counter(), list[float]()
        for b in batches:
            end = time.perf_counter() + self.launch
            while time.perf_counter() < end:  # launching: Python holding the GIL
                pass
            now = time.perf_counter()
            free_at = max(free_at, now) + self.token_s * b.input_ids.size
            queued = [t for t in queued if t > now] + [free_at]
            if len(queued) > self.ahead:
                time.sleep(queued[-self.ahead - 1] - now)  # the launch queue is full
        time.sleep(max(0.0, free_at - time.perf_counter()))  # the copy back waits for the GPU
        return np.ones((len(texts), self.dim), dtype=np.float32)  # placed and normalized there


def seconds_per_token(tok: stream.FastTokenizer, texts: list[str], forward: float) -> float:
    """The stand-in's time per padded token: ``texts`` in batches over one global length sort
    (``bench encode``'s forward-only measure) take len(texts) / forward seconds."""
    batches = stream.token_batches(
        tok, texts, GPU_BATCH, len(texts), ramp=False, multiple=stream.GPU_MULTIPLE
    )
    return len(texts) / forward / sum(b.input_ids.size for b in batches)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("collection", type=Path, help="id<TAB>text passages (MS MARCO)")
    ap.add_argument("--forward", type=float, default=81_784.0, help="passages/s of the forward")
    ap.add_argument("--launch-ms", type=float, default=1.0, help="GIL-held ms per batch")
    ap.add_argument("--ahead", type=int, default=8, help="batches the launch queue holds")
    ap.add_argument("--copies", type=int, default=4, help="the index stage's copies of each")
    args = ap.parse_args()
    with open(args.collection, encoding="utf-8") as fh:
        passages = [line.rstrip("\n").split("\t", 1) for line in fh]
    rows = passages * max(4, args.copies)
    tok = HuggingFaceEncoder(EncoderSpec(), device="cpu").fast_tokenizer
    assert tok is not None
    texts = [text for _, text in rows[:40_000]]
    gpu = StandInGPU(tok, seconds_per_token(tok, texts, args.forward), args.launch_ms, args.ahead)

    gpu.encode_documents(texts[:4096])  # warm
    t0 = time.perf_counter()
    for _ in range(4):
        gpu.encode_documents(texts)
    rate = 4 * len(texts) / (time.perf_counter() - t0)
    print(
        f"bench encode pipeline: {rate:,.0f} passages/s, "
        f"{rate / args.forward:.0%} of the forward ({args.forward:,.0f}/s)"
    )

    # the index stage's calls, staged and read back as ``index`` does
    stage = bench_encode.index_stage(gpu, [text for _, text in passages], copies=args.copies)  # type: ignore[arg-type]
    rate = stage["docs_s"]
    print(
        f"index encode stage: {rate:,.0f} passages/s, "
        f"{rate / args.forward:.0%} of the forward ({stage['documents']:,} passages)"
    )


if __name__ == "__main__":
    main()
