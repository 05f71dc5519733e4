"""A server encodes queries on many search threads: MKL's per-thread buffer pools stay off."""

from __future__ import annotations

import os
import subprocess
import sys

from lucene_hybrid.server.api.app import SERVING_ENV

# 16 threads encode 240 distinct queries of 3 to 32 words; prints how far the peak RSS rose
# above the loaded model's. With "serving", serving_environment() runs first, as create_app runs
# it.
GROWTH = """
import sys, threading
if sys.argv[1] == "serving":
    from lucene_hybrid.server.api.app import serving_environment
    serving_environment()
from lucene_hybrid.indexing.encoders import EncoderSpec
from lucene_hybrid.indexing.encoders.hf import HuggingFaceEncoder

def peak_mb():
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

words = "protein folding cell signalling vaccine trial dose response gene expression".split()
n = len(words)
queries = [" ".join(words[(i * j) % n] for j in range(3 + i % 30)) + f" in {i} patients?"
           for i in range(240)]
enc = HuggingFaceEncoder(EncoderSpec())
enc.encode_queries(queries[:4])
before = peak_mb()
threads = [threading.Thread(target=lambda j=j: [enc.encode_queries([q]) for q in queries[j::16]])
           for j in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(peak_mb() - before)
"""


def _growth_mb(how: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in SERVING_ENV}
    done = subprocess.run(
        [sys.executable, "-c", GROWTH, how],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return float(done.stdout.strip().splitlines()[-1])


def test_query_threads_do_not_each_keep_mkl_buffers():
    """Measured on 2 vCPUs (three runs): the peak rose 92-110 MB with MKL's pools, 43 without."""
    plain, serving = _growth_mb("plain"), _growth_mb("serving")
    assert serving < plain - 30, (plain, serving)
