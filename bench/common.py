"""What every benchmark shares: percentiles, JIT warm-up, where it ran, memory and disk."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lucene_hybrid.core.errors import LuceneHybridError
from lucene_hybrid.server.collection import tree_bytes


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))]


WARMUP_S = 2.0  # of unmeasured searches before each row: lets the JVM's JIT compile Lucene


def warm_up(fn: Callable[[int], object], n: int, seconds: float = WARMUP_S) -> None:
    """Call ``fn(i)`` cycling over ``range(n)`` for at least ``seconds`` (and 20 calls).

    A JVM runs Lucene interpreted until its JIT has seen enough calls; a row measured after
    20 searches timed the compiler, not the engine. Every system in a run warms up alike.
    """
    start, i = time.perf_counter(), 0
    while n and (i < 20 or time.perf_counter() - start < seconds) and i < 20_000:
        fn(i % n)
        i += 1


def machine() -> dict[str, Any]:
    """Where a benchmark ran: CPU count and model, platform, Python."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def folder_mb(folder: Path) -> float:
    """Size on disk of the files under ``folder``, in MiB."""
    return round(tree_bytes(folder) / 2**20, 1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def vm_kib(pid: int, key: str) -> int:
    """A /proc/PID/status memory line in KiB (VmRSS now, VmHWM the peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise LuceneHybridError(f"no {key} for process {pid}")


def write(
    result: dict[str, Any], out: Path, table: Callable[[dict[str, Any]], str]
) -> tuple[Path, Path]:
    """``out``.json and ``out``.md (the Markdown made by ``table``)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    js, md = out.with_suffix(".json"), out.with_suffix(".md")
    js.write_text(json.dumps(result, indent=2))
    md.write_text(table(result))
    return js, md
