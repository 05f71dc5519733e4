"""The LlamaIndex vector store against a real `lucene-hybrid serve` on loopback: every query
mode, every filter operator (and AND / OR / NOT), ref-doc deletes, get/delete nodes, clear, and
both client-side and server-side embeddings."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from lucene_hybrid_client.llama_index import LuceneHybridVectorStore
from serverproc import Server, demo_server

pytestmark = pytest.mark.slow

TEXTS = {
    "n1": (
        "Volcanic ash grounded flights across Europe",
        {"year": 2010, "topic": "geo", "tags": ["ash", "air"]},
    ),
    "n2": (
        "Tulips bloom in spring in Dutch fields",
        {"year": 2015, "topic": "plants", "tags": ["flowers"]},
    ),
    "n3": (
        "Harbour tide tables for the coming week",
        {"year": 2020, "topic": "sea", "tags": ["tide"]},
    ),
    "n4": (
        "Magma rises under the volcano before an eruption",
        {"year": 2021, "topic": "geo", "tags": ["lava"]},
    ),
}


def one_hot(i: int) -> list[float]:
    return [1.0 if j == i else 0.05 for j in range(4)]


def nodes(with_vectors: bool) -> list[TextNode]:
    out = []
    for i, (nid, (text, meta)) in enumerate(TEXTS.items()):
        node = TextNode(
            id_=nid, text=text, metadata=dict(meta), embedding=one_hot(i) if with_vectors else None
        )
        ref = "docA" if nid in ("n1", "n2") else "docB"
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=ref)
        out.append(node)
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("li")) as srv:
        yield srv


@pytest.fixture()
def store(server, request) -> Iterator[LuceneHybridVectorStore]:
    name = "li" + re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:50]
    s = LuceneHybridVectorStore(name, dim=4, url=server.url)
    s.add(nodes(with_vectors=True))
    yield s
    s.client.delete_collection(s.collection_name)


def ids(result) -> list[str]:
    return list(result.ids)


def test_query_modes(store):
    dense = store.query(VectorStoreQuery(query_embedding=one_hot(2), similarity_top_k=1))
    assert ids(dense) == ["n3"] and dense.nodes[0].get_content() == TEXTS["n3"][0]
    assert dense.nodes[0].metadata["topic"] == "sea" and dense.nodes[0].ref_doc_id == "docB"
    for mode in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH):
        sparse = store.query(
            VectorStoreQuery(query_str="tide harbour", mode=mode, similarity_top_k=3)
        )
        assert ids(sparse) == ["n3"]  # lexical: only one node has the words
    hybrid = VectorStoreQuery(
        query_str="volcano eruption",
        query_embedding=one_hot(0),
        mode=VectorStoreQueryMode.HYBRID,
        similarity_top_k=4,
    )
    assert ids(store.query(hybrid))[0] in ("n1", "n4")
    hybrid.alpha = 0.0  # BM25 only: the node with the words wins
    assert ids(store.query(hybrid))[0] == "n4"
    hybrid.alpha = 1.0  # dense only: the node whose vector matches wins
    assert ids(store.query(hybrid))[0] == "n1"
    with pytest.raises(ValueError, match="not supported"):
        store.query(VectorStoreQuery(query_embedding=one_hot(0), mode=VectorStoreQueryMode.SVM))


@pytest.mark.parametrize(
    "op, key, value, expected",
    [
        (FilterOperator.EQ, "topic", "geo", {"n1", "n4"}),
        (FilterOperator.NE, "topic", "geo", {"n2", "n3"}),
        (FilterOperator.GT, "year", 2015, {"n3", "n4"}),
        (FilterOperator.GTE, "year", 2015, {"n2", "n3", "n4"}),
        (FilterOperator.LT, "year", 2015, {"n1"}),
        (FilterOperator.LTE, "year", 2015, {"n1", "n2"}),
        (FilterOperator.IN, "topic", ["sea", "plants"], {"n2", "n3"}),
        (FilterOperator.NIN, "topic", ["sea", "plants"], {"n1", "n4"}),
        (FilterOperator.ANY, "tags", ["lava", "tide"], {"n3", "n4"}),
    ],
)
def test_each_filter_operator(store, op, key, value, expected):
    filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])
    for query in (
        VectorStoreQuery(query_embedding=one_hot(0), similarity_top_k=10, filters=filters),
        VectorStoreQuery(
            query_str="the",
            mode=VectorStoreQueryMode.HYBRID,
            query_embedding=one_hot(1),
            similarity_top_k=10,
            filters=filters,
        ),
    ):
        got = set(ids(store.query(query)))
        assert got == expected, (op, query.mode, got)


def test_and_or_not(store):
    geo = MetadataFilter(key="topic", value="geo")
    recent = MetadataFilter(key="year", value=2020, operator=FilterOperator.GTE)

    def q(f: MetadataFilters) -> set[str]:
        query = VectorStoreQuery(query_embedding=one_hot(0), similarity_top_k=10, filters=f)
        return set(ids(store.query(query)))

    assert q(MetadataFilters(filters=[geo, recent], condition=FilterCondition.AND)) == {"n4"}
    assert q(MetadataFilters(filters=[geo, recent], condition=FilterCondition.OR)) == {
        "n1",
        "n3",
        "n4",
    }
    assert q(MetadataFilters(filters=[geo], condition=FilterCondition.NOT)) == {"n2", "n3"}
    nested = MetadataFilters(
        filters=[
            MetadataFilters(filters=[geo, recent], condition=FilterCondition.AND),
            MetadataFilter(key="topic", value="plants"),
        ],
        condition=FilterCondition.OR,
    )
    assert q(nested) == {"n2", "n4"}
    with pytest.raises(ValueError, match="not supported"):
        q(
            MetadataFilters(
                filters=[MetadataFilter(key="topic", value="g", operator=FilterOperator.TEXT_MATCH)]
            )
        )


def test_delete_get_nodes_and_clear(store):
    got = store.get_nodes(node_ids=["n2", "n1"])
    assert [n.node_id for n in got] == ["n2", "n1"] and got[0].get_content() == TEXTS["n2"][0]
    geo = MetadataFilters(filters=[MetadataFilter(key="topic", value="geo")])
    assert {n.node_id for n in store.get_nodes(filters=geo)} == {"n1", "n4"}
    assert {n.node_id for n in store.get_nodes()} == set(TEXTS)
    store.delete("docA")  # ref_doc_id: n1 and n2
    assert {n.node_id for n in store.get_nodes()} == {"n3", "n4"}
    store.delete_nodes(node_ids=["n3"])
    assert {n.node_id for n in store.get_nodes()} == {"n4"}
    store.add(nodes(with_vectors=True))
    store.delete_nodes(filters=geo)
    assert {n.node_id for n in store.get_nodes()} == {"n2", "n3"}
    many = [TextNode(id_=f"m{i:04d}", text="x", embedding=one_hot(i % 4)) for i in range(2345)]
    store.add(many)  # more than one request's worth: get_nodes pages through them all
    assert {n.node_id for n in store.get_nodes()} == {"n2", "n3"} | {n.node_id for n in many}
    store.clear()
    assert store.get_nodes() == []
    assert store.client.get_collection(store.collection_name).dim == 4


async def test_async_and_server_side_embedding(server):
    store = LuceneHybridVectorStore("li_server_side", url=server.url)  # no dim: the server embeds
    await store.async_add(nodes(with_vectors=False))
    dense = await store.aquery(
        VectorStoreQuery(query_str="airspace closed by an eruption", similarity_top_k=1)
    )
    assert ids(dense)[0] in ("n1", "n4")
    hybrid = await store.aquery(
        VectorStoreQuery(
            query_str="flowers in the Netherlands",
            mode=VectorStoreQueryMode.HYBRID,
            similarity_top_k=1,
        )
    )
    assert ids(hybrid) == ["n2"]
    await store.adelete("docB")
    assert {n.node_id for n in store.get_nodes()} == {"n1", "n2"}
    with pytest.raises(ValueError, match=r"8-dimensional.*384-dimensional"):
        LuceneHybridVectorStore("li_server_side", dim=8, url=server.url)
