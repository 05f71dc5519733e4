"""Sync and async clients for the lucene-hybrid REST API.

Both share one description of every call (``_Calls``: method, path, body, and how to read the
answer); they differ only in how the request is sent. A 503 (overloaded, out of memory) and a
failed connection are retried with exponential backoff, honouring ``Retry-After``; every write
of the API is idempotent (upsert and delete by id), so a retry never applies a batch twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from .errors import ConnectionFailed, LuceneHybridError, NotFound, error_for
from .models import CollectionInfo, Document, SearchRequest, SearchResult

T = TypeVar("T")
U = TypeVar("U")
DocLike = Document | Mapping[str, Any]
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class _Call(Generic[T]):
    method: str
    path: str
    body: Any
    read: Callable[[Any], T]

    def then(self, f: Callable[[T], U]) -> _Call[U]:
        """The same request, its answer read on through ``f``."""
        read = self.read
        return _Call(self.method, self.path, self.body, lambda a: f(read(a)))


def _coll(name: str) -> str:
    return f"/v1/collections/{quote(name, safe='')}"


def _doc(d: DocLike) -> dict[str, Any]:
    doc = d if isinstance(d, Document) else Document.model_validate(d)
    return doc.model_dump(exclude_none=True)


def _docs(answer: Any) -> list[Document]:
    return [Document.model_validate(d) for d in answer["documents"]]


class _Calls:
    """What each API call sends and how its answer is read."""

    @staticmethod
    def list_collections() -> _Call[list[CollectionInfo]]:
        return _Call(
            "GET",
            "/v1/collections",
            None,
            lambda a: [CollectionInfo.model_validate(c) for c in a["collections"]],
        )

    @staticmethod
    def create_collection(
        name: str,
        dim: int | None,
        encoder: Mapping[str, Any] | None,
        hnsw: Mapping[str, Any] | None,
        bm25: Mapping[str, Any] | None,
        path: str | None,
        shards: int | None = None,
    ) -> _Call[CollectionInfo]:
        body: dict[str, Any] = {"name": name}
        if shards is not None:
            body["shards"] = shards
        if dim is not None:  # the application embeds: vectors come with documents and queries
            body["encoder"] = {"kind": "precomputed", "dim": dim, **(encoder or {})}
        elif encoder is not None:
            body["encoder"] = dict(encoder)
        if hnsw:
            body["hnsw"] = dict(hnsw)
        if bm25:
            body["bm25"] = dict(bm25)
        if path:
            body["path"] = path
        return _Call("POST", "/v1/collections", body, CollectionInfo.model_validate)

    @staticmethod
    def get_collection(name: str) -> _Call[CollectionInfo]:
        return _Call("GET", _coll(name), None, CollectionInfo.model_validate)

    @staticmethod
    def delete_collection(name: str) -> _Call[None]:
        return _Call("DELETE", _coll(name), None, lambda a: None)

    @staticmethod
    def upsert(name: str, documents: Sequence[DocLike]) -> _Call[int]:
        body = {"documents": [_doc(d) for d in documents]}
        return _Call("POST", f"{_coll(name)}/documents", body, lambda a: int(a["count"]))

    @staticmethod
    def get(
        name: str,
        ids: Sequence[str] | None,
        filter: Mapping[str, Any] | None,  # noqa: A002
        limit: int,
        with_vectors: bool,
    ) -> _Call[list[Document]]:
        if ids is not None:
            body = {"ids": list(ids), "with_vectors": with_vectors}
            return _Call("POST", f"{_coll(name)}/documents/get", body, _docs)
        return _Calls.page(name, filter, limit, None, with_vectors).then(lambda page: page[0])

    @staticmethod
    def page(
        name: str,
        filter: Mapping[str, Any] | None,  # noqa: A002
        limit: int,
        after: str | None,
        with_vectors: bool,
    ) -> _Call[tuple[list[Document], str | None]]:
        body: dict[str, Any] = {"limit": limit, "with_vectors": with_vectors}
        if filter is not None:
            body["filter"] = dict(filter)
        if after is not None:
            body["after"] = after
        return _Call(
            "POST", f"{_coll(name)}/documents/get", body, lambda a: (_docs(a), a.get("next"))
        )

    @staticmethod
    def delete(
        name: str,
        ids: Sequence[str] | None,
        filter: Mapping[str, Any] | None,  # noqa: A002
    ) -> _Call[int]:
        body: dict[str, Any] = (
            {"filter": dict(filter)} if filter is not None else {"ids": list(ids or [])}
        )
        return _Call("POST", f"{_coll(name)}/documents/delete", body, lambda a: int(a["count"]))

    @staticmethod
    def search(name: str, request: SearchRequest) -> _Call[SearchResult]:
        return _Call("POST", f"{_coll(name)}/search", request.body(), SearchResult.model_validate)

    @staticmethod
    def search_batch(name: str, requests: Sequence[SearchRequest]) -> _Call[list[SearchResult]]:
        body = {"searches": [r.body() for r in requests]}
        return _Call(
            "POST",
            f"{_coll(name)}/search/batch",
            body,
            lambda a: [SearchResult.model_validate(r) for r in a["results"]],
        )

    @staticmethod
    def embed(name: str, texts: Sequence[str], input_type: str) -> _Call[list[list[float]]]:
        body = {"texts": list(texts), "input_type": input_type}
        return _Call("POST", f"{_coll(name)}/embed", body, lambda a: a["vectors"])

    @staticmethod
    def ready() -> _Call[dict[str, Any]]:
        return _Call("GET", "/readyz", None, lambda a: a)


def _request(query: str | None, kw: dict[str, Any]) -> SearchRequest:
    return SearchRequest(query=query, **kw)


class _Base:
    def __init__(
        self,
        url: str,
        api_key: str | None,
        timeout: float,
        retries: int,
        backoff: float,
    ):
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        after = response.headers.get("retry-after") if response is not None else None
        if after and after.replace(".", "", 1).isdigit():
            return min(float(after), 30.0)
        return self.backoff * (2**attempt) * (0.5 + random.random() / 2)

    @staticmethod
    def _answer(call: _Call[T], response: httpx.Response) -> T:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise error_for(response.status_code, body)
        return call.read(body)


class Client(_Base):
    """Blocking client. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ):
        super().__init__(url, api_key, timeout, retries, backoff)
        self._http = httpx.Client(
            base_url=self.url, headers=self.headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, call: _Call[T]) -> T:
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = self._http.request(call.method, call.path, json=call.body)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise ConnectionFailed(f"cannot reach {self.url}: {exc}") from exc
            else:
                if response.status_code != 503 or attempt == self.retries:
                    return self._answer(call, response)
            time.sleep(self._delay(attempt, response))
        raise AssertionError("unreachable")  # pragma: no cover

    # collections
    def list_collections(self) -> list[CollectionInfo]:
        return self._run(_Calls.list_collections())

    def create_collection(
        self,
        name: str,
        *,
        dim: int | None = None,
        encoder: Mapping[str, Any] | None = None,
        hnsw: Mapping[str, Any] | None = None,
        bm25: Mapping[str, Any] | None = None,
        path: str | None = None,
        shards: int | None = None,
    ) -> CollectionInfo:
        """Create a collection: ``dim`` for vectors the application supplies, else ``encoder``
        (default: the server's all-MiniLM-L6-v2) embeds text server-side; ``path`` attaches a
        batch-built index; ``shards`` splits it over that many shards (a server run with
        ``serve --ray``; default 1)."""
        return self._run(_Calls.create_collection(name, dim, encoder, hnsw, bm25, path, shards))

    def get_collection(self, name: str) -> CollectionInfo:
        return self._run(_Calls.get_collection(name))

    def collection_exists(self, name: str) -> bool:
        try:
            self.get_collection(name)
        except NotFound:
            return False
        return True

    def delete_collection(self, name: str) -> None:
        self._run(_Calls.delete_collection(name))

    # documents
    def upsert(self, collection: str, documents: Iterable[DocLike], batch_size: int = 500) -> int:
        """Add or replace documents by id, in batches; returns how many were written."""
        docs, n = list(documents), 0
        for start in range(0, len(docs), batch_size):
            n += self._run(_Calls.upsert(collection, docs[start : start + batch_size]))
        return n

    def get(
        self,
        collection: str,
        ids: Sequence[str] | None = None,
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        limit: int = 100,
        with_vectors: bool = False,
    ) -> list[Document]:
        """Documents by id (in the order asked; absent ids left out); without ids, the first
        ``limit`` documents in id order (those matching ``filter`` if one is given)."""
        if ids is not None and not ids:
            return []
        return self._run(_Calls.get(collection, ids, filter, limit, with_vectors))

    def iter_documents(
        self,
        collection: str,
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        page_size: int = 500,
        with_vectors: bool = False,
    ) -> Iterator[Document]:
        """Every document (or every one matching ``filter``) in id order, fetched a page at a
        time. Pages follow a cursor (the last id), so writes made meanwhile never make the walk
        repeat a document or miss one that was there throughout."""
        after = None
        while True:
            docs, after = self._run(_Calls.page(collection, filter, page_size, after, with_vectors))
            yield from docs
            if after is None:
                return

    def delete(
        self,
        collection: str,
        ids: Sequence[str] | None = None,
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
    ) -> int:
        """Delete by id (absent ids are fine) or every document matching a metadata filter."""
        if filter is None and not ids:
            return 0
        return self._run(_Calls.delete(collection, ids, filter))

    # search
    def search(self, collection: str, query: str | None = None, **options: Any) -> SearchResult:
        """Search; ``options`` are the search API's: vector, mode, k, offset, depth, fusion, rrf_k,
        weights, alpha, normalization, k1, b, ef_search, dense_search, filter, include_text,
        timings, explain."""
        return self._run(_Calls.search(collection, _request(query, options)))

    def search_batch(
        self, collection: str, searches: Sequence[SearchRequest | Mapping[str, Any]]
    ) -> list[SearchResult]:
        reqs = [s if isinstance(s, SearchRequest) else SearchRequest(**s) for s in searches]
        return self._run(_Calls.search_batch(collection, reqs))

    def embed(
        self, collection: str, texts: Sequence[str], input_type: str = "query"
    ) -> list[list[float]]:
        """Vectors from the collection's own encoder."""
        return self._run(_Calls.embed(collection, texts, input_type))

    def ready(self) -> dict[str, Any]:
        return self._run(_Calls.ready())


class AsyncClient(_Base):
    """The same API as :class:`Client`, awaitable."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        super().__init__(url, api_key, timeout, retries, backoff)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=self.headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _run(self, call: _Call[T]) -> T:
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = await self._http.request(call.method, call.path, json=call.body)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise ConnectionFailed(f"cannot reach {self.url}: {exc}") from exc
            else:
                if response.status_code != 503 or attempt == self.retries:
                    return self._answer(call, response)
            await asyncio.sleep(self._delay(attempt, response))
        raise AssertionError("unreachable")  # pragma: no cover

    async def list_collections(self) -> list[CollectionInfo]:
        return await self._run(_Calls.list_collections())

    async def create_collection(
        self,
        name: str,
        *,
        dim: int | None = None,
        encoder: Mapping[str, Any] | None = None,
        hnsw: Mapping[str, Any] | None = None,
        bm25: Mapping[str, Any] | None = None,
        path: str | None = None,
        shards: int | None = None,
    ) -> CollectionInfo:
        return await self._run(
            _Calls.create_collection(name, dim, encoder, hnsw, bm25, path, shards)
        )

    async def get_collection(self, name: str) -> CollectionInfo:
        return await self._run(_Calls.get_collection(name))

    async def collection_exists(self, name: str) -> bool:
        try:
            await self.get_collection(name)
        except NotFound:
            return False
        return True

    async def delete_collection(self, name: str) -> None:
        await self._run(_Calls.delete_collection(name))

    async def upsert(
        self, collection: str, documents: Iterable[DocLike], batch_size: int = 500
    ) -> int:
        docs, n = list(documents), 0
        for start in range(0, len(docs), batch_size):
            n += await self._run(_Calls.upsert(collection, docs[start : start + batch_size]))
        return n

    async def get(
        self,
        collection: str,
        ids: Sequence[str] | None = None,
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        limit: int = 100,
        with_vectors: bool = False,
    ) -> list[Document]:
        if ids is not None and not ids:
            return []
        return await self._run(_Calls.get(collection, ids, filter, limit, with_vectors))

    async def iter_documents(
        self,
        collection: str,
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        page_size: int = 500,
        with_vectors: bool = False,
    ) -> AsyncIterator[Document]:
        after = None
        while True:
            call = _Calls.page(collection, filter, page_size, after, with_vectors)
            docs, after = await self._run(call)
            for doc in docs:
                yield doc
            if after is None:
                return

    async def delete(
        self,
        collection: str,
        ids: Sequence[str] | None = None,
        *,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
    ) -> int:
        if filter is None and not ids:
            return 0
        return await self._run(_Calls.delete(collection, ids, filter))

    async def search(
        self, collection: str, query: str | None = None, **options: Any
    ) -> SearchResult:
        return await self._run(_Calls.search(collection, _request(query, options)))

    async def search_batch(
        self, collection: str, searches: Sequence[SearchRequest | Mapping[str, Any]]
    ) -> list[SearchResult]:
        reqs = [s if isinstance(s, SearchRequest) else SearchRequest(**s) for s in searches]
        return await self._run(_Calls.search_batch(collection, reqs))

    async def embed(
        self, collection: str, texts: Sequence[str], input_type: str = "query"
    ) -> list[list[float]]:
        return await self._run(_Calls.embed(collection, texts, input_type))

    async def ready(self) -> dict[str, Any]:
        return await self._run(_Calls.ready())


__all__ = ["AsyncClient", "Client", "LuceneHybridError"]
