"""LangChain's standard VectorStore suites (sync and async) against `lucene-hybrid serve --ray`,
every collection split over two shard actors: a RAG application keeps its vector store when
the collection moves onto a cluster."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests
from lucene_hybrid_client.langchain import LuceneHybridVectorStore
from serverproc import Server, ray_server

_names = itertools.count()


@pytest.fixture(scope="module")
def cluster_server(ray_cluster, tmp_path_factory) -> Iterator[Server]:
    with ray_server(ray_cluster.address, tmp_path_factory.mktemp("lc-cluster") / "data") as srv:
        yield srv


class TestShardedVectorStore(VectorStoreIntegrationTests):
    """The standard suite; every test gets a fresh, empty 2-shard collection."""

    @pytest.fixture()
    def vectorstore(self, cluster_server) -> Iterator[LuceneHybridVectorStore]:  # type: ignore[override]
        name = f"lcs{next(_names)}"
        store = LuceneHybridVectorStore(
            name, self.get_embeddings(), url=cluster_server.url, shards=2
        )
        info = store.client.get_collection(name)
        assert [s.shard for s in info.shards or []] == [0, 1]  # really split
        try:
            yield store
        finally:
            store.client.delete_collection(name)
