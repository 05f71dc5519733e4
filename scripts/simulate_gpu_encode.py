"""How much of a GPU's forward the encoding pipeline would keep, simulated on this machine.

No GPU is needed: a stand-in model replaces the forward. Per batch it holds the GIL for
--launch-ms (the Python that launches a forward's kernels), then "runs" asynchronously at
--forward passages/s (default: the H100 fp16 forward of all-MiniLM-L6-v2 measured in the
README, 81,784/s), with at most --ahead batches queued (the CUDA launch queue); a call ends
waiting for it (the copy back). Everything else is real: the model's tokenizer (nanotoken),
the tokenize-ahead thread and batching, and for the index stage the staged JsonCollection
shards read back by Arrow and the vectors written to Parquet.

Prints the share of the stand-in forward's time each path keeps busy: ``bench encode``'s
pipeline (one call of 40,000 passages, four times) and an index build's encode stage (every
passage four times over, in the calls ``index`` makes). A GPU host's spare cores are not
simulated: on a 2-core machine the reader, writer and tokenizer threads compete for them.

Usage: python scripts/simulate_gpu_encode.py COLLECTION.tsv [--forward N] [--launch-ms X]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lucene_hybrid.indexing import build
from lucene_hybrid.indexing.encoders import EncoderSpec, stream
from lucene_hybrid.indexing.encoders.hf import GPU_BATCH, HuggingFaceEncoder


class StandInGPU:
    """An encoder whose forward is simulated; its tokenizing and batching are the real ones."""

    def __init__(self, tok: stream.FastTokenizer, forward: float, launch_ms: float, ahead: int):
        self.tok, self.forward, self.launch, self.ahead = tok, forward, launch_ms / 1e3, ahead
        self.batch_size, self.dim, self.busy = GPU_BATCH, 384, 0.0

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        window = self.batch_size * stream.WINDOW_BATCHES
        batches = stream.token_batches(self.tok, texts, self.batch_size, window, multiple=8)
        if len(texts) > self.batch_size:  # as stream.encode does
            batches = stream.prefetch(batches, depth=2 * stream.WINDOW_BATCHES)
        free_at, queue_s = time.perf_counter(), self.ahead * self.batch_size / self.forward
        for b in batches:
            end = time.perf_counter() + self.launch
            while time.perf_counter() < end:  # launching: Python holding the GIL
                pass
            now = time.perf_counter()
            self.busy += len(b.positions) / self.forward
            free_at = max(free_at, now) + len(b.positions) / self.forward
            if free_at - now > queue_s:
                time.sleep(free_at - now - queue_s)  # the launch queue is full
        time.sleep(max(0.0, free_at - time.perf_counter()))  # the copy back waits for the GPU
        return np.ones((len(texts), self.dim), dtype=np.float32)  # placed and normalized there


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("collection", type=Path, help="id<TAB>text passages (MS MARCO)")
    ap.add_argument("--forward", type=float, default=81_784.0, help="passages/s of the forward")
    ap.add_argument("--launch-ms", type=float, default=1.0, help="GIL-held ms per batch")
    ap.add_argument("--ahead", type=int, default=8, help="batches the launch queue holds")
    args = ap.parse_args()
    with open(args.collection, encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t", 1) for line in fh] * 4
    tok = HuggingFaceEncoder(EncoderSpec(), device="cpu").fast_tokenizer
    assert tok is not None
    gpu = StandInGPU(tok, args.forward, args.launch_ms, args.ahead)

    texts = [text for _, text in rows[:40_000]]
    gpu.encode_documents(texts[:4096])  # warm
    gpu.busy, t0 = 0.0, time.perf_counter()
    for _ in range(4):
        gpu.encode_documents(texts)
    took = time.perf_counter() - t0
    print(
        f"bench encode pipeline: {4 * len(texts) / took:,.0f} passages/s, "
        f"{gpu.busy / took:.0%} of the forward ({args.forward:,.0f}/s)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        staged = build._ShardWriter(Path(tmp) / "docs", "docs")  # noqa: SLF001 - as index stages
        for n, (_, text) in enumerate(rows):
            staged.write(json.dumps({"id": str(n), "contents": text}, ensure_ascii=False))
        staged.close()
        writer = build.VectorShards(Path(tmp) / "vectors", "vectors")
        docs = build._read_staged(Path(tmp) / "docs", staged.longest)  # noqa: SLF001
        gpu.busy, t0 = 0.0, time.perf_counter()
        with tqdm(disable=True) as bar:
            build.encode_to_shards(docs, gpu, writer, bar, read_ahead=True)  # type: ignore[arg-type]
        writer.close()
        took = time.perf_counter() - t0
    print(
        f"index encode stage: {staged.count / took:,.0f} passages/s, "
        f"{gpu.busy / took:.0%} of the forward ({staged.count:,} passages)"
    )


if __name__ == "__main__":
    main()
