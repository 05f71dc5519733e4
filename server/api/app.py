"""The FastAPI app factory: startup (JVM, collections, demo), middleware, error mapping."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lucene_hybrid.core import jvm
from lucene_hybrid.core.errors import (
    CorpusError,
    EncoderError,
    EncoderUnavailable,
    IndexBuildError,
    LuceneHybridError,
    ManifestError,
    PartUnavailable,
)
from lucene_hybrid.indexing.build import BuildOptions, build_index
from lucene_hybrid.search.filters import error_path
from lucene_hybrid.search.types import ResponseTooLarge, SearchParamError
from lucene_hybrid.server.api.errors import InvalidUnicode, LimitExceeded, Unauthorized
from lucene_hybrid.server.api.metrics import Metrics
from lucene_hybrid.server.api.routes import router
from lucene_hybrid.server.collection import (
    CollectionClosed,
    CollectionRecovering,
    DocumentError,
    FileLimitReached,
    StorageError,
)
from lucene_hybrid.server.registry import (
    CollectionExists,
    CollectionNotFound,
    CollectionUnavailable,
    InvalidName,
    Registry,
    Sharding,
    ShardingUnavailable,
)
from lucene_hybrid.server.settings import ServerSettings

log = logging.getLogger("lucene_hybrid.server")

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "demo" / "corpus.jsonl"
STATIC = Path(__file__).resolve().parent / "static"  # the playground page (no build step)


_STATUS: list[tuple[type[Exception], int, str]] = [
    (CollectionNotFound, 404, "not_found"),
    (CollectionClosed, 404, "not_found"),  # deleted while the request waited
    (CollectionExists, 409, "conflict"),
    (InvalidName, 400, "invalid_name"),
    (SearchParamError, 422, "invalid_parameter"),
    (ResponseTooLarge, 422, "response_too_large"),
    (InvalidUnicode, 422, "invalid_request"),
    (DocumentError, 422, "invalid_document"),
    (EncoderUnavailable, 502, "encoder_unavailable"),  # before EncoderError, its base
    (EncoderError, 422, "encoder_error"),
    (ManifestError, 400, "invalid_index"),
    (CorpusError, 400, "invalid_corpus"),
    (IndexBuildError, 409, "index_unavailable"),
    (CollectionRecovering, 503, "collection_unavailable"),  # before StorageError, its base
    (FileLimitReached, 507, "too_many_open_files"),  # before StorageError, its base
    (StorageError, 507, "insufficient_storage"),
    (CollectionUnavailable, 503, "collection_unavailable"),
    (ShardingUnavailable, 400, "sharding_unavailable"),
]

_HTTP_KINDS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def _allowed_methods(request: Request) -> list[str]:
    """Methods of the most specific route templates matching the path (for a 405's Allow)."""
    matching = [
        route
        for route in router.routes
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE
    ]
    literal = {r.path: len(re.sub(r"\{[^}]*\}", "", r.path)) for r in matching}
    best = max(literal.values(), default=0)
    return sorted({m for r in matching if literal[r.path] == best for m in r.methods or ()})


def error_response(status: int, kind: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": kind, "message": message}}, status_code=status, headers=headers or None
    )


class Admission:
    """Bounded concurrency on /v1/: wait up to ``max_wait_s`` for one of the app's
    ``state.inflight`` slots, else 503 + Retry-After; every request's latency and status go to
    the metrics. Plain ASGI: Starlette's ``@app.middleware("http")`` runs each request through
    a task group and memory streams."""

    def __init__(self, app: ASGIApp, max_wait_s: float):
        self.app = app
        self.max_wait_s = max_wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        state = scope["app"].state
        try:
            if not scope["path"].startswith("/v1/"):
                await self.app(scope, receive, send_status)
                return
            sem: asyncio.Semaphore = state.inflight
            try:
                if sem.locked():
                    await asyncio.wait_for(sem.acquire(), timeout=self.max_wait_s)
                else:
                    await sem.acquire()
            except TimeoutError:
                busy = error_response(
                    503, "overloaded", "server busy: retry shortly", **{"Retry-After": "1"}
                )
                await busy(scope, receive, send_status)
                return
            state.active += 1
            try:
                await self.app(scope, receive, send_status)
            finally:
                state.active -= 1
                sem.release()
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            state.metrics.observe(scope["method"], path, status, time.perf_counter() - start)


class BodyLimit:
    """Reject bodies over ``max_bytes`` with 413, by Content-Length or while streaming, and
    bodies whose next chunk takes over ``timeout_s`` to arrive with 408 (a client that stalls
    mid-body would otherwise hold one of the requests in flight for good)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            too_big = error_response(
                413, "body_too_large", f"request body over the limit of {self.max_bytes} bytes"
            )
            await too_big(scope, receive, send)
            return
        seen, more = 0, True

        async def counting_receive() -> Message:
            nonlocal seen, more
            if not more:  # the body is in: what is left to receive is the disconnect, untimed
                return await receive()
            try:
                async with asyncio.timeout(self.timeout_s):  # no task per call, as wait_for's
                    message = await receive()
            except TimeoutError:
                raise LimitExceeded(
                    f"the request body stalled: no data for {self.timeout_s:g} s",
                    408,
                    "request_timeout",
                ) from None
            more = message.get("more_body", False) and message["type"] == "http.request"
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise LimitExceeded(f"request body over the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)


def _build_demo(registry: Registry) -> None:
    target = registry.root / "demo"
    if target.exists() or target.is_symlink():
        return
    log.info("building the demo collection from %s", DEMO_CORPUS.name)
    opts = BuildOptions(corpus=DEMO_CORPUS, index=target, progress=False, threads=2)
    build_index(opts, registry.encoder_for(opts.encoder))  # the model the registry will reuse


# MKL, torch's CPU BLAS, keeps a pool of GEMM buffers for every thread that calls it and never
# frees it: a server's search threads each encoding a query grew the process by ~190 MB at 16
# concurrent queries (SciFact, 2 vCPUs: peak RSS 1,003 MB against the 1 GB target), by ~80 MB
# with the pools off, at no cost to a query's encoding that the machine's drift would show
# (p50 19.0 / 23.8 ms off, 22.0 / 21.5 on). MKL reads the variable once, as torch loads it.
SERVING_ENV = {"MKL_DISABLE_FAST_MM": "1"}


def serving_environment() -> None:
    """Set ``SERVING_ENV`` where the user has not: effective only before torch is imported,
    which nothing before the app's startup does."""
    for name, value in SERVING_ENV.items():
        os.environ.setdefault(name, value)
    if "torch" in sys.modules:
        log.debug("torch was imported before the app: MKL keeps its per-thread buffers")


def create_app(
    settings: ServerSettings, connection_files: int = 0, sharding: Sharding | None = None
) -> FastAPI:
    """Build the app; collections open at startup and close (committed) at shutdown.

    ``connection_files``: the file descriptors to keep for connections (the server's connection
    cap); a new collection is refused while it would leave writes too few of the rest.
    ``sharding``: how to serve sharded collections, on a cluster (None: in one process).
    """
    serving_environment()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jvm.start(settings.jvm_heap)
        registry = Registry(
            settings.data_dir,
            commit_interval_s=settings.commit_interval_s,
            query_cache_size=settings.query_cache_size,
            exact_max_docs=settings.exact_max_docs,
            connection_files=connection_files,
            write_slots=settings.limits.max_inflight,
            sharding=sharding,
        )
        if settings.demo_collection:
            await asyncio.to_thread(_build_demo, registry)
        await asyncio.to_thread(registry.open_all)
        for name, path in settings.collections.items():
            # attached by an earlier start, whether it opened now or not (its reason stays)
            if name not in registry.names() and name not in registry.failed:
                try:
                    await asyncio.to_thread(registry.attach, name, Path(path))
                except LuceneHybridError as exc:
                    registry.failed[name] = f"could not be attached at startup: {exc}"
                    log.error("collection %s (%s) not attached: %s", name, path, exc)
        app.state.registry = registry
        # The searches' own threads: a plain executor hands off and back ~0.1-0.15 ms faster
        # than the anyio pool behind run_in_threadpool. Admission caps the requests in flight.
        app.state.search_pool = ThreadPoolExecutor(settings.limits.max_inflight, "search")
        app.state.ready = True
        stop = threading.Event()

        def committer() -> None:
            while not stop.wait(max(settings.commit_interval_s / 2, 0.05)):
                registry.commit_all()

        thread = threading.Thread(target=committer, name="committer", daemon=True)
        thread.start()
        log.info("serving collections: %s", ", ".join(registry.names()) or "(none)")
        try:
            yield
        finally:
            app.state.ready = False
            stop.set()
            thread.join(timeout=5)
            app.state.search_pool.shutdown(wait=True)
            registry.close()

    app = FastAPI(
        title="lucene-hybrid",
        version="0.1.0",
        description="BM25 + HNSW hybrid search in one Lucene engine.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ready = False
    app.state.metrics = Metrics()
    app.state.inflight = asyncio.Semaphore(settings.limits.max_inflight)
    app.state.active = 0  # /v1/ requests admitted and not yet answered
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def playground() -> FileResponse:
        """The search playground: BM25, dense and fused lists side by side."""
        return FileResponse(STATIC / "index.html")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Routing and body-parsing errors (404, 405 with Allow, 400) in our error shape."""
        kind = _HTTP_KINDS.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(exc.status_code, kind, str(exc.detail), **headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:10]:
            # Not "body", nor which kind of filter was validated (filters.TAGS): the fields'
            # path alone, e.g. filter.and.0.op.
            where = error_path(p for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return error_response(422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(LuceneHybridError)
    async def domain_error(request: Request, exc: LuceneHybridError) -> JSONResponse:
        if isinstance(exc, (LimitExceeded, Unauthorized)):
            headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
            kind = "unauthorized" if isinstance(exc, Unauthorized) else exc.kind
            return error_response(exc.status, kind, str(exc), **headers)
        if isinstance(exc, PartUnavailable):
            retry = str(exc.retry_after_s)
            return error_response(503, "shard_unavailable", str(exc), **{"Retry-After": retry})
        for cls, status, kind in _STATUS:
            if isinstance(exc, cls):
                return error_response(status, kind, str(exc))
        log.error("unmapped domain error on %s: %s", request.url.path, exc)
        return error_response(500, "internal_error", "internal error; see the server log")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        java_class = jvm.java_error(exc)
        if java_class == jvm.TOO_MANY_CLAUSES:
            return error_response(
                422, "invalid_parameter", "the query has too many distinct terms; shorten it"
            )
        if java_class == jvm.OUT_OF_MEMORY:
            log.error("JVM out of heap on %s %s", request.method, request.url.path)
            return error_response(
                503,
                "out_of_memory",
                "the search engine ran out of memory for this request (nothing was changed): "
                "ask for fewer results or smaller batches, or raise jvm_heap",
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; see the server log")

    app.add_middleware(Admission, max_wait_s=settings.limits.max_wait_s)
    app.add_middleware(  # the outer one
        BodyLimit,
        max_bytes=settings.limits.max_body_bytes,
        timeout_s=settings.limits.body_timeout_s,
    )
    return app
