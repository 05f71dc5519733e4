"""The client walks a whole collection, page by page, against a real server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lucene_hybrid_client import AsyncClient, Client
from serverproc import Server

pytestmark = pytest.mark.slow

IDS = [f"p{i:03d}" for i in range(23)] + ["Ärger", "a/b", "z"]


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> Iterator[str]:
    srv = Server(tmp_path_factory.mktemp("paging") / "data").start()
    try:
        with Client(srv.url) as c:
            c.create_collection("walk", dim=2)
            docs = [
                {"id": d, "text": d, "metadata": {"odd": i % 2 == 1}, "vector": [1, i]}
                for i, d in enumerate(IDS)
            ]
            c.upsert("walk", docs, batch_size=7)
        yield srv.url
    finally:
        srv.stop()


def test_iter_documents_yields_each_document_once_in_id_order(url):
    with Client(url) as c:
        assert [d.id for d in c.iter_documents("walk", page_size=4)] == sorted(IDS)
        odd = {"field": "odd", "op": "eq", "value": True}
        walked = list(c.iter_documents("walk", filter=odd, page_size=3, with_vectors=True))
        assert [d.id for d in walked] == sorted(IDS[1::2])
        for d in walked:  # stored by direction: [1, i] normalized
            assert d.vector is not None and d.vector[1] / d.vector[0] == pytest.approx(
                IDS.index(d.id)
            )
        assert [d.id for d in c.get("walk", limit=5)] == sorted(IDS)[:5]
        assert c.get("walk", []) == []


def test_a_walk_sees_writes_that_land_past_the_page_in_hand(url):
    with Client(url) as c:
        c.create_collection("moving", dim=2)
        c.upsert("moving", [{"id": d, "text": d, "vector": [1, 1]} for d in IDS])
        seen = []
        for doc in c.iter_documents("moving", page_size=5):
            seen.append(doc.id)
            if doc.id == "p010":
                c.delete("moving", ["p020"])
                c.upsert("moving", [{"id": "p0175", "text": "late", "vector": [0, 1]}])
        assert seen == sorted((set(IDS) - {"p020"}) | {"p0175"})


async def test_async_iter_documents(url):
    async with AsyncClient(url) as c:
        got = [d.id async for d in c.iter_documents("walk", page_size=6)]
        assert got == sorted(IDS)
