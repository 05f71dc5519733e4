"""LangChain's standard VectorStore suites (sync and async) against a real `lucene-hybrid
serve` on loopback, plus what the suites do not cover: server-side embedding, hybrid vs dense
modes, filters, MMR over stored vectors, and a clear dimension-mismatch error."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests
from lucene_hybrid_client import Client
from lucene_hybrid_client.langchain import LuceneHybridVectorStore
from serverproc import Server, demo_server

pytestmark = pytest.mark.slow

_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("lc")) as srv:
        yield srv


class TestLuceneHybridVectorStore(VectorStoreIntegrationTests):
    """The standard suite; every test gets a fresh, empty collection on the real server."""

    @pytest.fixture()
    def vectorstore(self, server) -> Iterator[LuceneHybridVectorStore]:  # type: ignore[override]
        name = f"lc{next(_names)}"
        store = LuceneHybridVectorStore(name, self.get_embeddings(), url=server.url)
        try:
            yield store
        finally:
            store.client.delete_collection(name)


def test_server_side_embedding_hybrid_and_modes(server):
    store = LuceneHybridVectorStore("lc_server_side", url=server.url)  # no embedding: the server's
    ids = store.add_texts(
        [
            "Volcanic ash grounded flights across Europe",
            "Tulips bloom in spring",
            "The harbour tide tables for next week",
        ],
        metadatas=[{"topic": "geo"}, {"topic": "plants"}, {"topic": "sea"}],
        ids=["ash", "tulip", "tide"],
    )
    assert ids == ["ash", "tulip", "tide"]
    assert store.similarity_search("eruption closes airspace", k=1)[0].id == "ash"  # semantic
    bm25 = store.similarity_search("harbour", k=3, mode="bm25")
    assert [d.id for d in bm25] == ["tide"]  # lexical only: one document has the word
    flowers = store.similarity_search("flowers", k=1, mode="dense")
    assert flowers[0].id == "tulip" and flowers[0].metadata == {"topic": "plants"}
    assert store.similarity_search("flowers", k=3, filter={"topic": "sea"})[0].id == "tide"
    in_filter = {"field": "topic", "op": "in", "value": ["geo", "sea"]}
    assert {d.id for d in store.similarity_search("anything", k=3, filter=in_filter)} == {
        "ash",
        "tide",
    }
    relevance = store.similarity_search_with_relevance_scores("volcano ash", k=3)
    assert all(0.0 <= s <= 1.0 for _, s in relevance) and relevance[0][0].id == "ash"
    retriever = store.as_retriever(search_kwargs={"k": 2, "mode": "hybrid", "alpha": 0.3})
    assert retriever.invoke("volcanic ash")[0].id == "ash"
    mmr = store.max_marginal_relevance_search("volcanic ash", k=2, fetch_k=3)
    assert mmr[0].id == "ash" and len(mmr) == 2
    store.delete(filter={"topic": "plants"})
    assert store.get_by_ids(["tulip", "ash"]) == [
        Document(
            id="ash",
            page_content="Volcanic ash grounded flights across Europe",
            metadata={"topic": "geo"},
        )
    ]


async def test_async_mmr_and_vector_search(server):
    emb = DeterministicFakeEmbedding(size=8)
    store = await LuceneHybridVectorStore.afrom_texts(
        ["alpha one", "alpha two", "beta three"],
        emb,
        ids=["a1", "a2", "b3"],
        collection_name="lc_async",
        url=server.url,
    )
    by_vector = await store.asimilarity_search_by_vector(emb.embed_query("beta three"), k=1)
    assert by_vector[0].id == "b3"
    picked = await store.amax_marginal_relevance_search("alpha one", k=2, fetch_k=3)
    assert picked[0].id == "a1" and len(picked) == 2


def test_dimension_mismatch_names_both_dimensions(server):
    LuceneHybridVectorStore("lc_dims", DeterministicFakeEmbedding(size=6), url=server.url)
    with pytest.raises(ValueError, match=r"12-dimensional.*6-dimensional"):
        LuceneHybridVectorStore("lc_dims", DeterministicFakeEmbedding(size=12), url=server.url)
    with pytest.raises(ValueError, match="no server-side encoder"):
        LuceneHybridVectorStore("lc_dims", None, url=server.url)
    with Client(server.url) as client:  # and the server names both when vectors disagree
        from lucene_hybrid_client import InvalidRequest

        with pytest.raises(InvalidRequest, match="dimension 3 does not match .* dimension 6"):
            client.upsert("lc_dims", [{"id": "x", "text": "x", "vector": [1, 2, 3]}])
