"""Thin typed routers: collections, documents, search, operations."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from lucene_hybrid.search.filters import filter_json
from lucene_hybrid.search.types import SearchParams, TextBudget
from lucene_hybrid.server.api import models as m
from lucene_hybrid.server.api.errors import LimitExceeded, Unauthorized
from lucene_hybrid.server.api.surrogates import SurrogateCheckedRoute, direct
from lucene_hybrid.server.collection import (
    CollectionClosed,
    CollectionRecovering,
    DocIn,
    ServedCollection,
)
from lucene_hybrid.server.registry import CollectionNotFound, Registry, check_name
from lucene_hybrid.server.settings import ServerSettings

router = APIRouter(route_class=SurrogateCheckedRoute)


# -- dependencies -----------------------------------------------------------------------------
# async: FastAPI runs a sync dependency on the thread pool, one hand-off each; these never block.


async def get_settings(request: Request) -> ServerSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


def _check_key(request: Request, settings: ServerSettings) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("this endpoint needs 'Authorization: Bearer <api key>'")
    ok = False
    for key in settings.api_keys:  # compare with every key: no early exit on a match
        ok |= hmac.compare_digest(token.encode(), key.get_secret_value().encode())
    if not ok:
        raise Unauthorized("the API key is not valid", status=403)


async def require_write(
    request: Request, settings: Annotated[ServerSettings, Depends(get_settings)]
) -> None:
    if settings.api_keys:
        _check_key(request, settings)


async def require_read(
    request: Request, settings: Annotated[ServerSettings, Depends(get_settings)]
) -> None:
    if settings.api_keys and settings.read_requires_key:
        _check_key(request, settings)


async def get_collection(
    name: str, registry: Annotated[Registry, Depends(get_registry)]
) -> ServedCollection:
    return registry.get(check_name(name))


async def read_collection(name: str, request: Request) -> ServedCollection:
    """The named collection after the read-key check: one dependency where the other routes
    solve four (FastAPI's per-request cost of each showed in the search path's profile)."""
    state = request.app.state
    await require_read(request, state.settings)
    return state.registry.get(check_name(name))  # type: ignore[no-any-return]


Settings = Annotated[ServerSettings, Depends(get_settings)]
ReadColl = Annotated[ServedCollection, Depends(read_collection)]
Reg = Annotated[Registry, Depends(get_registry)]
Coll = Annotated[ServedCollection, Depends(get_collection)]
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": m.ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 502, 503, 507)
}


def _limit(ok: bool, message: str, status: int = 413) -> None:
    if not ok:
        raise LimitExceeded(message, status)


def _check_ids(ids: list[str], settings: ServerSettings, what: str = "ids") -> None:
    limit = settings.limits.max_batch_docs
    _limit(len(ids) <= limit, f"{len(ids)} {what} is over the limit of {limit} per request")


# -- search -----------------------------------------------------------------------------------
# First in the router: a request's route is found by trying each route in turn, twice.
# The search endpoints are async and hand the search itself to the server's search threads (a
# sync endpoint also validates its returned model again, in a second hand-off); a lone search
# with nothing to encode runs on the event loop instead. The response is our own model,
# serialized once (the route's response_model still documents it).


async def _on_pool[T](state: Any, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the search threads (``state.search_pool``)."""
    return await asyncio.get_running_loop().run_in_executor(state.search_pool, fn, *args)


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def _search_one(
    coll: ServedCollection,
    req: m.SearchRequest,
    settings: ServerSettings,
    metrics: object,
    budget: TextBudget | None = None,
) -> m.SearchResponse:
    """One search; its hits' text spends ``budget`` (a batch's, shared; None: its own)."""
    lim = settings.limits
    _limit(req.k <= lim.max_k, f"k={req.k} is over the limit of {lim.max_k}", 422)
    _limit(
        req.offset + req.k <= lim.max_k,
        f"offset + k = {req.offset + req.k} is over the limit of {lim.max_k}",
        422,
    )
    _limit(
        req.depth <= lim.max_depth, f"depth={req.depth} is over the limit of {lim.max_depth}", 422
    )
    if req.query is not None:
        _limit(
            len(req.query) <= lim.max_query_chars,
            f"query longer than {lim.max_query_chars} characters",
            422,
        )
    params = SearchParams(
        mode=req.mode,
        k=req.k,
        offset=req.offset,
        depth=req.depth,
        fusion=req.fusion,
        rrf_k=req.rrf_k,
        weights=req.weights,
        alpha=req.alpha,
        normalization=req.normalization,
        k1=req.k1,
        b=req.b,
        ef_search=req.ef_search,
        dense_search=req.dense_search,
        fetch_docs=req.include_text,
        explain=req.explain,
        filter=filter_json(req.filter),
        budget=budget or TextBudget(lim.max_response_chars),
    )
    timings: dict[str, float] = {}
    missing: list[int] | None = [] if req.allow_partial else None
    start = time.perf_counter()
    hits = coll.search(req.query, params, req.vector, timings, missing)
    elapsed = time.perf_counter() - start
    metrics.searches.labels(req.mode).observe(elapsed)  # type: ignore[attr-defined]
    timings["total_ms"] = elapsed * 1000
    return m.SearchResponse(
        collection=coll.name,
        mode=req.mode,
        hits=[
            m.HitOut(
                id=h.docid,
                score=h.score,
                rank=h.rank,
                text=h.text,
                metadata=h.metadata,
                bm25_rank=h.bm25_rank,
                bm25_score=h.bm25_score,
                dense_rank=h.dense_rank,
                dense_score=h.dense_score,
                explain=h.explain,
            )
            for h in hits
        ],
        timings_ms={k: round(v, 3) for k, v in timings.items()} if req.timings else None,
        missing_shards=sorted(missing) if missing else None,
    )


def _read_collection_of(request: Request) -> Awaitable[ServedCollection]:
    """`read_collection` for a direct call (see `direct`)."""
    return read_collection(request.path_params["name"], request)


@router.post(
    "/v1/collections/{name}/search",
    response_model=m.SearchResponse,
    responses=ERRORS,
)
@direct(m.SearchRequest, _read_collection_of)
async def search(body: m.SearchRequest, coll: ReadColl, request: Request) -> Response:
    state = request.app.state
    if state.active == 1 and (body.vector is not None or body.mode == "bm25"):
        # Alone and with nothing to encode (a few ms at most): on the event loop, which has
        # nothing else to do; the hand-off to a pool thread and back cost ~0.2 ms of ~1.
        # Alone also means no write is in flight (writes are /v1/ requests, counted alike),
        # so no refresh holds the collection's view and the search cannot wait on the loop.
        return _json(_search_one(coll, body, state.settings, state.metrics))
    return _json(await _on_pool(state, _search_one, coll, body, state.settings, state.metrics))


@router.post(
    "/v1/collections/{name}/search/batch",
    response_model=m.BatchSearchResponse,
    responses=ERRORS,
)
@direct(m.BatchSearchRequest, _read_collection_of)
async def batch_search(body: m.BatchSearchRequest, coll: ReadColl, request: Request) -> Response:
    state = request.app.state
    settings, metrics, n = state.settings, state.metrics, len(body.searches)
    _limit(
        n <= settings.limits.max_batch_queries,
        f"{n} searches is over the limit of {settings.limits.max_batch_queries}",
    )

    def run() -> m.BatchSearchResponse:
        budget = TextBudget(settings.limits.max_response_chars)
        return m.BatchSearchResponse(
            results=[_search_one(coll, s, settings, metrics, budget) for s in body.searches]
        )

    return _json(await _on_pool(state, run))


# -- collections ------------------------------------------------------------------------------


def _info(coll: ServedCollection) -> m.CollectionInfo:
    return m.CollectionInfo(
        name=coll.name,
        documents=coll.count(),
        size_bytes=coll.size_bytes(),
        path=str(coll.path.resolve()),
        manifest=coll.manifest.model_dump(mode="json"),
        shards=coll.shard_status(),
    )


@router.get(
    "/v1/collections",
    response_model=m.CollectionList,
    responses=ERRORS,
    dependencies=[Depends(require_read)],
)
def list_collections(registry: Reg) -> m.CollectionList:
    infos, failed = [], dict(registry.failed)
    for coll in registry.open_collections():
        try:
            infos.append(_info(coll))
        except CollectionClosed:  # deleted meanwhile
            continue
        except CollectionRecovering as exc:  # listed with why it answers 503 for now
            failed[coll.name] = str(exc)
    return m.CollectionList(collections=infos, failed=failed)


@router.post(
    "/v1/collections",
    response_model=m.CollectionInfo,
    status_code=201,
    responses=ERRORS,
    dependencies=[Depends(require_write)],
)
def create_collection(body: m.CollectionCreate, registry: Reg) -> m.CollectionInfo:
    if body.path:
        coll = registry.attach(body.name, Path(body.path))
    else:
        coll = registry.create(
            body.name, body.encoder, hnsw=body.hnsw, bm25=body.bm25, shards=body.shards
        )
    return _info(coll)


@router.get(
    "/v1/collections/{name}",
    response_model=m.CollectionInfo,
    responses=ERRORS,
    dependencies=[Depends(require_read)],
)
def describe_collection(coll: Coll) -> m.CollectionInfo:
    return _info(coll)


@router.delete(
    "/v1/collections/{name}",
    status_code=204,
    responses=ERRORS,
    dependencies=[Depends(require_write)],
)
def delete_collection(name: str, registry: Reg) -> Response:
    registry.delete(check_name(name))
    return Response(status_code=204)


# -- documents --------------------------------------------------------------------------------


@router.post(
    "/v1/collections/{name}/documents",
    response_model=m.WriteResult,
    responses=ERRORS,
    dependencies=[Depends(require_write)],
)
def upsert_documents(body: m.UpsertRequest, coll: Coll, settings: Settings) -> m.WriteResult:
    lim = settings.limits
    docs = body.documents
    _limit(
        len(docs) <= lim.max_batch_docs,
        f"batch of {len(docs)} documents is over the limit of {lim.max_batch_docs}",
    )
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
        _limit(False, f"duplicate ids in one batch: {dupes}", 422)
    for d in docs:
        _limit(len(d.id) <= lim.max_id_chars, f"id longer than {lim.max_id_chars} characters", 422)
        _limit(
            len(d.text) <= lim.max_text_chars,
            f"text of {d.id[:80]!r} is over {lim.max_text_chars} characters",
        )
    count = coll.upsert([DocIn(d.id, d.text, d.metadata, d.vector) for d in docs])
    return m.WriteResult(collection=coll.name, count=count)


@router.post(
    "/v1/collections/{name}/documents/get",
    response_model=m.DocumentList,
    responses=ERRORS,
    dependencies=[Depends(require_read)],
)
def get_documents(body: m.GetRequest, coll: Coll, settings: Settings) -> m.DocumentList:
    after, budget = None, TextBudget(settings.limits.max_response_chars)
    if body.ids is not None:
        _check_ids(body.ids, settings)
        docs = coll.get(body.ids, body.with_vectors, budget)
    else:
        limit = settings.limits.max_batch_docs
        _limit(body.limit <= limit, f"limit={body.limit} is over the limit of {limit}", 422)
        where = filter_json(body.filter)
        docs, after = coll.find(where, body.limit, body.with_vectors, body.after, budget)
    return m.DocumentList(documents=[m.DocumentOut(**d.__dict__) for d in docs], next=after)


@router.get(
    "/v1/collections/{name}/documents/{doc_id:path}",
    response_model=m.DocumentOut,
    responses=ERRORS,
    dependencies=[Depends(require_read)],
)
def get_document(doc_id: str, coll: Coll, with_vectors: bool = False) -> m.DocumentOut:
    docs = coll.get([doc_id], with_vectors=with_vectors)
    if not docs:
        raise CollectionNotFound(f"no document {doc_id[:80]!r} in collection {coll.name!r}")
    return m.DocumentOut(**docs[0].__dict__)


@router.post(
    "/v1/collections/{name}/documents/delete",
    response_model=m.WriteResult,
    responses=ERRORS,
    dependencies=[Depends(require_write)],
)
def delete_documents(body: m.DeleteRequest, coll: Coll, settings: Settings) -> m.WriteResult:
    if body.ids is None:
        return m.WriteResult(
            collection=coll.name, count=coll.delete_where(filter_json(body.filter))
        )
    _check_ids(body.ids, settings)
    return m.WriteResult(collection=coll.name, count=coll.delete(body.ids))


@router.post(
    "/v1/collections/{name}/embed",
    response_model=m.EmbedResponse,
    responses=ERRORS,
    dependencies=[Depends(require_read)],
)
def embed(body: m.EmbedRequest, coll: Coll, settings: Settings) -> m.EmbedResponse:
    """Embed texts with the collection's encoder (for clients that need query vectors, e.g. MMR)."""
    lim = settings.limits
    _check_ids(body.texts, settings, "texts")
    for text in body.texts:
        _limit(len(text) <= lim.max_text_chars, f"a text is over {lim.max_text_chars} characters")
    vectors = coll.embed(body.texts, body.input_type)
    return m.EmbedResponse(dim=int(vectors.shape[1]), vectors=vectors.tolist())


# -- operations -------------------------------------------------------------------------------


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": m.ErrorBody}})
def readyz(request: Request) -> Response:
    """The JVM is up and the collections are open (503 while starting or if any failed)."""
    state = request.app.state
    if not getattr(state, "ready", False):
        body = {"error": {"type": "not_ready", "message": "starting up"}}
        return JSONResponse(body, status_code=503)
    registry: Registry = state.registry
    shards = {}
    for coll in registry.open_collections():
        status_of = coll.shard_status()
        if status_of is not None:
            shards[coll.name] = status_of
    down = any(not s["up"] for parts in shards.values() for s in parts)
    status = 200 if not registry.failed and not down else 503
    body2: dict[str, Any] = {
        "status": "ready" if status == 200 else "degraded",
        "collections": registry.names(),
        "failed": registry.failed,
    }
    if shards:
        body2["shards"] = shards
    return JSONResponse(body2, status_code=status)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    state = request.app.state
    data = await run_in_threadpool(state.metrics.render, state.registry, state.active)
    return PlainTextResponse(data, media_type="text/plain; version=0.0.4")
