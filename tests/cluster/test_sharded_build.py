"""`lucene-hybrid index --shards N --ray`: a sharded build on a two-node Ray cluster holds what
the single-process build holds, resumes after its driver is killed, and reports malformed lines
as the single-process build does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from serverproc import CLI, RAY_LOOPBACK
from test_sharded_search import QUERIES, ranking

from lucene_hybrid.search import SearchParams

SHARDS = 3
CHUNK_LINES = 150  # ten chunks of the 1,500 paragraphs


def write_corpus(path, docs, *, vectors: bool = False, lines: dict[int, str] | None = None):
    """The documents as generic JSON lines (id, text, metadata fields; with ``vectors``, the
    vector too); ``lines`` puts raw lines at given 1-based line numbers."""
    out = []
    for d in docs:
        record = {"id": d.id, "text": d.text, **d.metadata}
        if vectors:
            record["vector"] = [float(x) for x in d.vector]
        out.append(json.dumps(record))
    for lineno, raw in sorted((lines or {}).items()):
        out.insert(lineno - 1, raw)
    path.write_text("\n".join(out) + "\n")
    return path


def precomputed(corpus, index, **options):
    """Build options for a corpus that carries its vectors (no model runs)."""
    from lucene_hybrid.indexing import BuildOptions, EncoderSpec, JsonlFields

    return BuildOptions(
        corpus=corpus,
        index=index,
        fields=JsonlFields(vector="vector"),
        encoder=EncoderSpec(kind="precomputed", dim=384),
        progress=False,
        **options,
    )


def cli_env():
    return {**os.environ, **RAY_LOOPBACK, "LUCENE_HYBRID_JVM_HEAP": "256m"}


def staged_chunks(index):
    parts = index.with_name(f".{index.name}.staging") / "parts"
    return [p for p in parts.glob("c*") if p.is_dir()] if parts.is_dir() else []


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, pydoc_docs):
    return write_corpus(tmp_path_factory.mktemp("corpus") / "pydoc.jsonl", pydoc_docs)


@pytest.fixture(scope="module")
def resumed_build(ray_cluster, corpus, tmp_path_factory):
    """The sharded build of the corpus with the real model, its driver killed (kill -9) once
    three chunks are staged, then run again with --resume: the finished run's output."""
    index = tmp_path_factory.mktemp("built") / "pydoc"
    args = [CLI, "index", str(corpus), "--index", str(index), "--shards", str(SHARDS)]
    args += ["--ray", ray_cluster.address, "--chunk-lines", str(CHUNK_LINES), "--quiet"]
    first = subprocess.Popen(
        args,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while len(staged_chunks(index)) < 3 and first.poll() is None:
        assert time.monotonic() < deadline, "no chunk staged in 300 s"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    staged = len(staged_chunks(index))
    assert 3 <= staged < 10, f"{staged} chunks staged when the driver was killed"
    assert not index.exists()  # nothing under the final name until the build is whole
    done = subprocess.run(
        [*args, "--resume"], env=cli_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return index, staged, done.stdout


@pytest.fixture(scope="module")
def single(corpus, pydoc_docs, tmp_path_factory, minilm):
    """The single-process build of the same documents (their vectors from the same model in
    this process, given precomputed), served in process."""
    from lucene_hybrid.indexing import BuildOptions, EncoderSpec, JsonlFields, build_index
    from lucene_hybrid.server import Collection

    where = tmp_path_factory.mktemp("single")
    with_vectors = write_corpus(where / "pydoc.jsonl", pydoc_docs, vectors=True)
    index = where / "index"
    build_index(
        BuildOptions(
            corpus=with_vectors,
            index=index,
            fields=JsonlFields(vector="vector"),
            encoder=EncoderSpec(kind="precomputed", dim=minilm.dim),
            progress=False,
        )
    )
    coll = Collection("single", index, encoder=minilm)
    yield coll
    coll.close()


@pytest.fixture(scope="module")
def sharded(resumed_build, minilm):
    from lucene_hybrid.cluster import ShardedCollection

    index, _, _ = resumed_build
    coll = ShardedCollection.open("pydoc", index, encoder=minilm, heap="256m")
    yield coll
    coll.shutdown()


def test_resume_encodes_only_what_the_killed_driver_had_not_staged(resumed_build):
    index, staged, out = resumed_build
    assert f"resumed: {staged} of 10 chunks" in out
    assert not index.with_name(f".{index.name}.staging").exists()  # gone once the build is in
    spec = json.loads((index / "cluster.json").read_text())
    assert spec["shards"] == SHARDS and spec["dim"] == 384
    assert spec["build"]["documents"] == 1500


def test_every_document_is_in_its_shard_once_with_its_text_metadata_and_vector(sharded, pydoc_docs):
    from lucene_hybrid.core.sharding import shard_of

    docs, _ = sharded.find(None, 10_000, with_vectors=True)
    assert [d.id for d in docs] == sorted(d.id for d in pydoc_docs)  # none missing, none twice
    got = {d.id: d for d in docs}
    for want in pydoc_docs:
        doc = got[want.id]
        assert (doc.text, doc.metadata) == (want.text, want.metadata)
        # encoded by another process, in other batches: the same vector
        cosine = float(np.dot(doc.vector, want.vector))
        cosine /= float(np.linalg.norm(doc.vector) * np.linalg.norm(want.vector))
        assert cosine >= 0.9999, want.id
    counts = sharded.shard_counts()
    assert counts == [
        sum(1 for d in pydoc_docs if shard_of(d.id, SHARDS) == s) for s in range(SHARDS)
    ]


def test_bm25_run_equals_the_single_process_build(single, sharded):
    params = SearchParams(mode="bm25", k=20)
    for query in QUERIES:
        assert ranking(sharded.search(query, params)) == ranking(single.search(query, params))


def test_a_malformed_line_stops_the_build_with_its_file_and_line(ray_cluster, pydoc_docs, tmp_path):
    from lucene_hybrid.cluster.build import build_sharded
    from lucene_hybrid.core.errors import CorpusError

    corpus = write_corpus(
        tmp_path / "bad.jsonl", pydoc_docs[:40], vectors=True, lines={5: '{"id": "x", "text'}
    )
    opts = precomputed(corpus, tmp_path / "index")
    with pytest.raises(CorpusError, match=rf"^{corpus}:5: malformed jsonl record"):
        build_sharded(opts, 2, chunk_lines=10)
    assert not opts.index.exists()


def test_skipped_lines_are_those_the_single_process_build_skips(ray_cluster, pydoc_docs, tmp_path):
    """A malformed line and a repeated id (whose first line stays), skipped and counted."""
    from lucene_hybrid.cluster import ShardedCollection
    from lucene_hybrid.cluster.build import build_sharded
    from lucene_hybrid.indexing import BuildOptions, build_index

    docs = pydoc_docs[:40]
    repeat = json.dumps(
        {"id": docs[3].id, "text": "a later line with the same id", "vector": [1.0] * 384}
    )
    corpus = write_corpus(
        tmp_path / "bad.jsonl", docs, vectors=True, lines={5: "not json", 30: repeat}
    )
    opts = precomputed(corpus, tmp_path / "sharded", skip_malformed=True)
    report = build_sharded(opts, 2, chunk_lines=10)
    single = build_index(BuildOptions(**{**opts.__dict__, "index": tmp_path / "single"}))
    assert [line for line, _ in report.skipped_lines] == [5, 30]
    assert report.skipped_lines == single.skipped_lines
    assert report.documents == single.manifest.documents == 40
    coll = ShardedCollection.open("bad", opts.index, heap="256m")
    try:
        [doc] = coll.get([docs[3].id])
        assert doc.text == docs[3].text  # the first line's
    finally:
        coll.shutdown()


def test_a_built_shard_read_back_on_resume_is_what_was_built(tmp_path):
    """A resumed build reads its built shards' results from JSON; its skipped lines must come
    back as the (line, reason) pairs a fresh shard gives, to be sorted with them."""
    from dataclasses import asdict

    from lucene_hybrid.cluster.build import ShardBuilt

    built = ShardBuilt(1, 40, 3, [(30, "duplicate id 'p3'")], {"total_s": 2.5})
    path = tmp_path / "shard-001.json"
    path.write_text(json.dumps(asdict(built)))
    again = ShardBuilt.read(path)
    assert again == built
    assert sorted([(5, "not json"), *again.skipped]) == [(5, "not json"), *built.skipped]


def test_the_index_stage_shows_every_shards_documents_through_hnsw(
    ray_cluster, pydoc_docs, tmp_path, capsys
):
    """One display for the build: read+encode, then the index stage counting each shard's
    documents through HNSW, to every document and every shard built."""
    from dataclasses import replace

    from lucene_hybrid.cluster.build import build_sharded

    corpus = write_corpus(tmp_path / "some.jsonl", pydoc_docs[:60], vectors=True)
    opts = replace(precomputed(corpus, tmp_path / "sharded"), progress=True)
    build_sharded(opts, 2, chunk_lines=20)
    shown = capsys.readouterr().err.replace("\r", "\n").splitlines()
    encode = [line for line in shown if line.startswith("read+encode")]
    index = [line for line in shown if line.startswith("index shards")]
    assert encode and "60/60" in encode[-1]
    assert index and "60/60" in index[-1] and "2/2 shards built" in index[-1]


def test_no_cluster_at_the_address_is_a_clear_error_and_stages_nothing(
    pydoc_docs, tmp_path, monkeypatch
):
    """`--ray auto` joins the running cluster. With none (Ray's own ConnectionError: the test
    cluster runs beside this test, so its absence is stood in for), the user is told so and no
    staging folder is left behind."""
    import ray

    from lucene_hybrid.cluster.build import build_sharded
    from lucene_hybrid.core.errors import LuceneHybridError

    def no_cluster(*args, **kwargs):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_cluster)
    corpus = write_corpus(tmp_path / "some.jsonl", pydoc_docs[:20], vectors=True)
    with pytest.raises(LuceneHybridError, match="no Ray cluster answers at 'auto'"):
        build_sharded(precomputed(corpus, tmp_path / "index"), 2, address="auto")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["some.jsonl"]
