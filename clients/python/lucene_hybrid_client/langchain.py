"""LangChain ``VectorStore`` on lucene-hybrid: hybrid (BM25 + dense) search by default.

    from lucene_hybrid_client.langchain import LuceneHybridVectorStore
    store = LuceneHybridVectorStore("docs", embedding=my_embeddings)   # or embedding=None:
    store.add_texts(["..."], metadatas=[{...}], ids=["1"])              # the server embeds
    store.similarity_search("query", k=4, mode="hybrid", filter={"source": "a.pdf"})

With an ``embedding`` the application embeds (vectors travel with documents and queries);
without one the collection's server-side encoder does. Search keyword arguments are the search
API's options: ``mode`` (bm25 / dense / hybrid), ``fusion``, ``alpha``, ``normalization``,
``rrf_k``, ``weights``, ``depth``, ``ef_search``, ``dense_search``, ``k1``, ``b`` and ``filter``
(the server's filter language, or ``{"key": value}`` shorthand).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from ._filters import to_server_filter
from .client import DEFAULT_URL, AsyncClient, Client
from .errors import NotFound
from .models import Document, SearchResult

DIMENSION_PROBE = "dimension probe"


def _lc(doc: Document | Any) -> LCDocument:
    return LCDocument(id=doc.id, page_content=doc.text or "", metadata=doc.metadata or {})


def _scored(result: SearchResult) -> list[tuple[LCDocument, float]]:
    return [(_lc(h), h.score) for h in result.hits]


def _mmr(
    query_vector: Sequence[float], docs: list[Document], k: int, lambda_mult: float
) -> list[LCDocument]:
    with_vectors = [d for d in docs if d.vector is not None]
    if not with_vectors:
        return []
    picked = maximal_marginal_relevance(
        np.asarray(query_vector, dtype=np.float32),
        [d.vector for d in with_vectors],  # type: ignore[misc]
        lambda_mult=lambda_mult,
        k=k,
    )
    return [_lc(with_vectors[i]) for i in picked]


class LuceneHybridVectorStore(VectorStore):
    """A lucene-hybrid collection as a LangChain vector store."""

    def __init__(
        self,
        collection_name: str = "langchain",
        embedding: Embeddings | None = None,
        *,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
        mode: str = "hybrid",
        search_options: dict[str, Any] | None = None,
        create_collection: bool = True,
        batch_size: int = 256,
        shards: int | None = None,
    ):
        self.collection_name = collection_name
        self._embedding = embedding
        self.client = client or Client(url, api_key=api_key)
        self.async_client = async_client or AsyncClient(url, api_key=api_key)
        self.mode = mode
        self.search_options = dict(search_options or {})
        self.batch_size = batch_size
        self.shards = shards  # of a collection this store creates (a server run with --ray)
        self._ensure_collection(create_collection)

    def _ensure_collection(self, create: bool) -> None:
        dim = len(self._embedding.embed_query(DIMENSION_PROBE)) if self._embedding else None
        try:
            info = self.client.get_collection(self.collection_name)
        except NotFound:
            if not create:
                raise
            self.client.create_collection(self.collection_name, dim=dim, shards=self.shards)
            return
        if dim is not None and dim != info.dim:
            raise ValueError(
                f"the embedding model makes {dim}-dimensional vectors but collection "
                f"'{self.collection_name}' holds {info.dim}-dimensional ones"
            )
        if dim is None and not info.server_side_encoder:
            raise ValueError(
                f"collection '{self.collection_name}' has no server-side encoder: pass the "
                f"embedding model ({info.dim} dimensions) that its vectors came from"
            )

    @property
    def embeddings(self) -> Embeddings | None:
        return self._embedding

    # -- writes ---------------------------------------------------------------------------

    def _documents(
        self,
        texts: list[str],
        metadatas: list[dict] | None,
        ids: Sequence[str | None] | None,
        vectors: list[list[float]] | None,
    ) -> list[Document]:
        ids = list(ids) if ids else [None] * len(texts)  # add_documents passes None for some
        return [
            Document(
                id=i or str(uuid.uuid4()),
                text=text,
                metadata=dict(metadatas[n]) if metadatas else {},
                vector=vectors[n] if vectors is not None else None,
            )
            for n, (text, i) in enumerate(zip(texts, ids, strict=True))
        ]

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Upsert texts (replacing documents with the same ids); returns their ids."""
        texts = list(texts)
        vectors = self._embedding.embed_documents(texts) if self._embedding else None
        docs = self._documents(texts, metadatas, ids, vectors)
        self.client.upsert(self.collection_name, docs, batch_size=self.batch_size)
        return [d.id for d in docs]

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        vectors = await self._embedding.aembed_documents(texts) if self._embedding else None
        docs = self._documents(texts, metadatas, ids, vectors)
        await self.async_client.upsert(self.collection_name, docs, batch_size=self.batch_size)
        return [d.id for d in docs]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id, or (``filter=...``) every document matching a metadata filter."""
        f = to_server_filter(kwargs.get("filter"))
        if ids is None and f is None:
            raise ValueError("pass ids or filter= (to drop everything, delete the collection)")
        self.client.delete(self.collection_name, ids, filter=f)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        f = to_server_filter(kwargs.get("filter"))
        if ids is None and f is None:
            raise ValueError("pass ids or filter= (to drop everything, delete the collection)")
        await self.async_client.delete(self.collection_name, ids, filter=f)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        return [_lc(d) for d in self.client.get(self.collection_name, list(ids))] if ids else []

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        if not ids:
            return []
        return [_lc(d) for d in await self.async_client.get(self.collection_name, list(ids))]

    # -- search ---------------------------------------------------------------------------

    def _options(self, k: int, filter: Any, kwargs: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        opts = {**self.search_options, **kwargs}
        opts.setdefault("mode", self.mode)
        opts["k"] = k
        opts["filter"] = to_server_filter(filter)
        for key in ("score_threshold",):  # LangChain retriever options the server lacks
            opts.pop(key, None)
        return opts

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[tuple[LCDocument, float]]:
        """Hits with their fused score (or BM25 / dense score in those modes)."""
        opts = self._options(k, filter, kwargs)
        if self._embedding is not None and opts["mode"] != "bm25" and "vector" not in opts:
            opts["vector"] = self._embedding.embed_query(query)
        return _scored(self.client.search(self.collection_name, query, **opts))

    async def asimilarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[tuple[LCDocument, float]]:
        opts = self._options(k, filter, kwargs)
        if self._embedding is not None and opts["mode"] != "bm25" and "vector" not in opts:
            opts["vector"] = await self._embedding.aembed_query(query)
        return _scored(await self.async_client.search(self.collection_name, query, **opts))

    def similarity_search(
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[LCDocument]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self,
        query: str,
        k: int = 4,
        filter: dict | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[LCDocument]:
        hits = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [d for d, _ in hits]

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: dict | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[LCDocument]:
        """Dense search with a query vector (there is no text for BM25)."""
        opts = self._options(k, filter, {**kwargs, "mode": "dense"})
        result = self.client.search(self.collection_name, None, vector=embedding, **opts)
        return [d for d, _ in _scored(result)]

    async def asimilarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: dict | None = None,
        **kwargs: Any,  # noqa: A002
    ) -> list[LCDocument]:
        opts = self._options(k, filter, {**kwargs, "mode": "dense"})
        result = await self.async_client.search(
            self.collection_name, None, vector=embedding, **opts
        )
        return [d for d, _ in _scored(result)]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        """Scores in [0, 1]: min-max-normalized linear fusion (alpha 0 / 1 for bm25 / dense)."""
        mode = kwargs.pop("mode", self.mode)
        alpha = {"bm25": 0.0, "dense": 1.0}.get(mode, kwargs.pop("alpha", None))
        kwargs.update(mode="hybrid", fusion="linear", normalization="minmax")
        if alpha is not None:
            kwargs["alpha"] = alpha
        return self.similarity_search_with_score(query, k, **kwargs)

    def _query_vector(self, query: str) -> list[float]:
        if self._embedding is not None:
            return self._embedding.embed_query(query)
        return self.client.embed(self.collection_name, [query])[0]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[LCDocument]:
        """Fetch ``fetch_k`` candidates (hybrid by default), then pick ``k`` by MMR over the
        vectors stored in the collection."""
        qvec = self._query_vector(query)
        opts = self._options(fetch_k, filter, kwargs)
        if opts["mode"] != "bm25":
            opts["vector"] = qvec
        hits = self.client.search(self.collection_name, query, **opts).hits
        docs = self.client.get(self.collection_name, [h.id for h in hits], with_vectors=True)
        return _mmr(qvec, docs, k, lambda_mult)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[LCDocument]:
        if self._embedding is not None:
            qvec = await self._embedding.aembed_query(query)
        else:
            qvec = (await self.async_client.embed(self.collection_name, [query]))[0]
        opts = self._options(fetch_k, filter, kwargs)
        if opts["mode"] != "bm25":
            opts["vector"] = qvec
        hits = (await self.async_client.search(self.collection_name, query, **opts)).hits
        ids = [h.id for h in hits]
        docs = await self.async_client.get(self.collection_name, ids, with_vectors=True)
        return _mmr(qvec, docs, k, lambda_mult)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[LCDocument]:
        opts = self._options(fetch_k, filter, {**kwargs, "mode": "dense"})
        hits = self.client.search(self.collection_name, None, vector=embedding, **opts).hits
        docs = self.client.get(self.collection_name, [h.id for h in hits], with_vectors=True)
        return _mmr(embedding, docs, k, lambda_mult)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str = "langchain",
        **kwargs: Any,
    ) -> LuceneHybridVectorStore:
        store = cls(collection_name, embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)  # type: ignore[arg-type]
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str = "langchain",
        **kwargs: Any,
    ) -> LuceneHybridVectorStore:
        store = cls(collection_name, embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)  # type: ignore[arg-type]
        return store
