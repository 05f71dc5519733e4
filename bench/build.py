"""Build time per stage: `lucene-hybrid index` in one process beside `index --shards N` on Ray.

Each build runs as its own `lucene-hybrid index` process, as a user runs it, into a scratch
folder; its stage timings are read back from what it wrote (the manifest of a single-process
build, ``cluster.json`` and the shards' manifests of a sharded one). A sharded build reads and
encodes on Ray Data (encoder actors), then builds its shards side by side in Ray tasks: its
``index`` stage is that whole phase, and each shard's own Lucene times are kept too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lucene_hybrid.bench.common import machine
from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.core.manifest import MANIFEST
from lucene_hybrid.core.sharding import CLUSTER_FILE, SHARD_DIR

CLI = str(Path(sys.executable).with_name("lucene-hybrid"))


@dataclass
class BuildRow:
    """One build of the corpus."""

    shards: int  # 1: the single-process build
    documents: int
    wall_s: float  # the command, start to end (Python, Ray and JVM start-up included)
    encode_s: float  # reading and encoding (single-process: BM25 indexing overlaps it)
    index_s: float  # the Lucene stage after encoding (sharded: every shard, side by side)
    shard_index_s: list[float]  # each shard's own BM25 + HNSW + metadata seconds

    def rate(self, seconds: float) -> float:
        return round(self.documents / seconds, 1) if seconds > 0 else 0.0


def _single_row(index: Path, wall_s: float) -> BuildRow:
    m = json.loads((index / MANIFEST).read_text())
    t = m["timings"]
    after = t["hnsw_index_s"] + t.get("metadata_s", 0.0)
    return BuildRow(1, m["documents"], wall_s, t["read_s"] + t["encode_s"], after, [])


def _sharded_row(index: Path, wall_s: float) -> BuildRow:
    spec = json.loads((index / CLUSTER_FILE).read_text())
    t = spec["build"]["timings"]
    own = []
    for s in range(spec["shards"]):
        st = json.loads((index / SHARD_DIR.format(s) / MANIFEST).read_text())["timings"]
        own.append(round(st.get("total_s", 0.0), 2))
    return BuildRow(
        spec["shards"], spec["build"]["documents"], wall_s, t["encode_s"], t["index_s"], own
    )


def run(
    corpus: Path,
    work: Path,
    shards: list[int],
    *,
    ray_address: str | None = None,
    args: list[str] | None = None,
    label: str = "",
    keep: bool = False,
) -> dict[str, Any]:
    """Build ``corpus`` once per shard count into ``work`` (emptied), each build removed after
    its timings are read unless ``keep`` (then ``work/shards-N``). ``args``: more `index`
    options (encoder, threads...)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = []
    for n in shards:
        index = work / f"shards-{n}"
        cmd = [CLI, "index", str(corpus), "--index", str(index), "--quiet", *(args or [])]
        if n > 1:
            cmd += ["--shards", str(n)] + (["--ray", ray_address] if ray_address else [])
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = round(time.perf_counter() - t0, 1)
        if done.returncode != 0:
            raise LuceneHybridError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        rows.append(
            _sharded_row(index, wall)
            if (index / CLUSTER_FILE).exists()
            else _single_row(index, wall)
        )
        if not keep:
            shutil.rmtree(index, ignore_errors=True)
        print(markdown_row(rows[-1]), flush=True)
    return {
        "label": label or corpus.stem,
        "corpus": str(corpus),
        "ray": ray_address or "a Ray started for each sharded build (this machine)",
        "machine": machine(),
        "rows": [
            asdict(r) | {"encode_docs_s": r.rate(r.encode_s), "index_docs_s": r.rate(r.index_s)}
            for r in rows
        ],
    }


def markdown_row(r: BuildRow) -> str:
    shards = "one process" if r.shards == 1 and not r.shard_index_s else f"{r.shards} on Ray"
    own = ", ".join(f"{s:.0f}" for s in r.shard_index_s) or "-"
    return (
        f"| {shards} | {r.documents:,} | {r.wall_s:.0f} | {r.encode_s:.0f} "
        f"({r.rate(r.encode_s):,.0f}/s) | {r.index_s:.0f} ({r.rate(r.index_s):,.0f}/s) | {own} |"
    )


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"### Build: {result['label']}",
        "",
        f"{m['cpus']} CPUs ({m['cpu']}), Python {m['python']}; Ray: {result['ray']}.",
        "",
        "| build | documents | wall s | read+encode s (docs/s) | index s (docs/s) "
        "| each shard's Lucene s |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        fields = {k: row[k] for k in BuildRow.__dataclass_fields__}
        lines.append(markdown_row(BuildRow(**fields)))
    return "\n".join(lines) + "\n"
