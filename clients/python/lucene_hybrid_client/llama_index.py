"""LlamaIndex vector store on lucene-hybrid: dense, BM25 (sparse / text search) and hybrid.

    from lucene_hybrid_client.llama_index import LuceneHybridVectorStore
    store = LuceneHybridVectorStore("docs", dim=384)        # or dim=None: the server embeds
    index = VectorStoreIndex.from_documents(docs, storage_context=
        StorageContext.from_defaults(vector_store=store))

Query modes: DEFAULT (dense), SPARSE and TEXT_SEARCH (BM25 over the node text), HYBRID (linear
fusion, ``alpha`` 0 = BM25 only .. 1 = dense only; the server's default when None). Metadata
filters: EQ, NE, GT, GTE, LT, LTE, IN, NIN, ANY, nested with AND / OR / NOT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from .client import DEFAULT_URL, AsyncClient, Client
from .errors import NotFound
from .models import Document, SearchResult

NODE_ID = "node_id"  # stored with each node's metadata so filters can name nodes
_OPS = {
    FilterOperator.EQ: "eq",
    FilterOperator.NE: "ne",
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "nin",
    FilterOperator.ANY: "in",  # an array field matches when any element is in the list
}
_MODES = {
    VectorStoreQueryMode.DEFAULT: "dense",
    VectorStoreQueryMode.SPARSE: "bm25",
    VectorStoreQueryMode.TEXT_SEARCH: "bm25",
    VectorStoreQueryMode.HYBRID: "hybrid",
}


def to_server_filter(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """LlamaIndex MetadataFilters as the server's filter language."""
    if filters is None or not filters.filters:
        return None
    parts: list[dict[str, Any]] = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            nested = to_server_filter(f)
            if nested is not None:
                parts.append(nested)
            continue
        op = _OPS.get(FilterOperator(f.operator))
        if op is None:
            raise ValueError(
                f"filter operator {f.operator!r} is not supported by lucene-hybrid; use one of "
                + ", ".join(o.name for o in _OPS)
            )
        parts.append({"field": f.key, "op": op, "value": f.value})
    condition = str(getattr(filters.condition, "value", filters.condition) or "and").lower()
    if condition == "not":
        inner = parts[0] if len(parts) == 1 else {"and": parts}
        return {"not": inner}
    if len(parts) == 1:
        return parts[0]
    return {"or" if condition == "or" else "and": parts}


def _and(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [f for f in filters if f]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"and": present}


def _node(doc: Document | Any) -> BaseNode:
    meta = dict(doc.metadata or {})
    meta.pop(NODE_ID, None)
    node = metadata_dict_to_node(meta, text=doc.text)
    node.node_id = doc.id
    return node


class LuceneHybridVectorStore(BasePydanticVectorStore):
    """A lucene-hybrid collection as a LlamaIndex vector store."""

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str
    url: str
    dim: int | None = None

    _client: Client = PrivateAttr()
    _aclient: AsyncClient = PrivateAttr()

    def __init__(
        self,
        collection_name: str = "llama_index",
        *,
        dim: int | None = None,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
        create_collection: bool = True,
    ):
        super().__init__(collection_name=collection_name, url=url, dim=dim)  # type: ignore[call-arg]
        self._client = client or Client(url, api_key=api_key)
        self._aclient = async_client or AsyncClient(url, api_key=api_key)
        try:
            info = self._client.get_collection(collection_name)
        except NotFound:
            if not create_collection:
                raise
            self._client.create_collection(collection_name, dim=dim)
            return
        if dim is not None and dim != info.dim:
            raise ValueError(
                f"the embedding model makes {dim}-dimensional vectors but collection "
                f"'{collection_name}' holds {info.dim}-dimensional ones"
            )

    @property
    def client(self) -> Client:
        return self._client

    # -- writes ---------------------------------------------------------------------------

    @staticmethod
    def _documents(nodes: Sequence[BaseNode]) -> list[Document]:
        docs = []
        for node in nodes:
            meta = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
            meta[NODE_ID] = node.node_id
            docs.append(
                Document(
                    id=node.node_id,
                    text=node.get_content(metadata_mode=MetadataMode.NONE),
                    metadata=meta,
                    vector=node.embedding,  # None: the server embeds the text
                )
            )
        return docs

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        docs = self._documents(nodes)
        self._client.upsert(self.collection_name, docs)
        return [d.id for d in docs]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        docs = self._documents(nodes)
        await self._aclient.upsert(self.collection_name, docs)
        return [d.id for d in docs]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of a source document."""
        ref = {"field": "ref_doc_id", "op": "eq", "value": ref_doc_id}
        self._client.delete(self.collection_name, filter=ref)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        ref = {"field": "ref_doc_id", "op": "eq", "value": ref_doc_id}
        await self._aclient.delete(self.collection_name, filter=ref)

    @staticmethod
    def _selection(
        node_ids: list[str] | None, filters: MetadataFilters | None
    ) -> dict[str, Any] | None:
        by_id = {"field": NODE_ID, "op": "in", "value": list(node_ids)} if node_ids else None
        return _and(by_id, to_server_filter(filters))

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        if node_ids and filters is None:
            self._client.delete(self.collection_name, node_ids)
            return
        selection = self._selection(node_ids, filters)
        if selection is not None:
            self._client.delete(self.collection_name, filter=selection)

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        if node_ids and filters is None:
            return [_node(d) for d in self._client.get(self.collection_name, node_ids)]
        selection = self._selection(node_ids, filters)  # None: every node, however many
        return [
            _node(d) for d in self._client.iter_documents(self.collection_name, filter=selection)
        ]

    def clear(self) -> None:
        """Remove every node: the collection is dropped and made again, empty, alike."""
        info = self._client.get_collection(self.collection_name)
        self._client.delete_collection(self.collection_name)
        encoder = info.manifest["encoder"]
        if info.server_side_encoder:
            self._client.create_collection(self.collection_name, encoder=encoder)
        else:
            self._client.create_collection(self.collection_name, dim=info.dim)

    # -- queries --------------------------------------------------------------------------

    def _search_options(self, query: VectorStoreQuery) -> tuple[str | None, dict[str, Any]]:
        mode = _MODES.get(VectorStoreQueryMode(query.mode))
        if mode is None:
            raise ValueError(
                f"query mode {query.mode!r} is not supported; use DEFAULT (dense), SPARSE or "
                "TEXT_SEARCH (BM25), or HYBRID"
            )
        k = query.similarity_top_k
        if mode == "bm25" and query.sparse_top_k:
            k = query.sparse_top_k
        opts: dict[str, Any] = {"mode": mode, "k": k}
        if mode != "bm25" and query.query_embedding is not None:
            opts["vector"] = list(query.query_embedding)
        if mode == "hybrid" and query.alpha is not None:
            opts.update(fusion="linear", alpha=query.alpha)
        if mode == "hybrid" and query.hybrid_top_k:
            opts["k"] = query.hybrid_top_k
        docs = (
            {"field": "ref_doc_id", "op": "in", "value": list(query.doc_ids)}
            if query.doc_ids
            else None
        )
        opts["filter"] = _and(self._selection(query.node_ids, query.filters), docs)
        return query.query_str, opts

    @staticmethod
    def _result(result: SearchResult) -> VectorStoreQueryResult:
        return VectorStoreQueryResult(
            nodes=[_node(h) for h in result.hits],
            similarities=[h.score for h in result.hits],
            ids=[h.id for h in result.hits],
        )

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        text, opts = self._search_options(query)
        return self._result(self._client.search(self.collection_name, text, **opts))

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        text, opts = self._search_options(query)
        return self._result(await self._aclient.search(self.collection_name, text, **opts))
