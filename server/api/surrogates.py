"""Refuse JSON bodies whose strings hold lone UTF-16 surrogates (see ``lone_surrogate``), and
parse the others fast.

The route class below checks every JSON body once, before FastAPI parses it for the endpoint,
and answers 422 naming the string, so the failure is the client's to fix and nothing is
half-done. The stdlib's ``json.loads``, which FastAPI calls, took 222 us for a search body with
a 384-d vector on a 2-vCPU AMD EPYC: about a tenth of a whole hybrid request. pydantic-core's
parser (Rust) took 37 us and gives the same values; where it refuses a body (NaN, Infinity, a
byte-order mark, a lone surrogate escape), FastAPI's own ``json.loads`` runs as before.

An endpoint marked with `direct` (the searches) skips FastAPI's per-request dependency and
validation pass when its body parses and validates: ~0.2 ms of a ~2 ms hybrid request on that
machine. Every other request, and every error, goes FastAPI's way unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from lucene_hybrid.core.text import lone_surrogate
from lucene_hybrid.server.api.errors import InvalidUnicode

# What can become a surrogate: a \uD800-\uDFFF escape, or its UTF-8-style bytes (``json.loads``
# decodes bytes with "surrogatepass"). Pairs (escaped emoji) match too; they pass the walk.
_MAYBE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_DIRECT = "__direct_call__"
E = TypeVar("E", bound=Callable[..., Awaitable[Response]])


def direct(body: type[BaseModel], resolve: Callable[[Request], Awaitable[Any]]) -> Callable[[E], E]:
    """Mark an ``endpoint(body, resolved, request)`` for the direct call: when the request's JSON
    body validates as ``body``, the route awaits ``resolve(request)`` (what the endpoint's
    dependency would give) and calls the endpoint itself. ``resolve`` must raise what that
    dependency raises; a body that does not validate goes FastAPI's way, whose dependency
    runs first and whose 422 names the fields, exactly as without the mark."""

    def mark(endpoint: E) -> E:
        setattr(endpoint, _DIRECT, (body, resolve))
        return endpoint

    return mark


def _json_type(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.partition(";")[0].strip().lower() == "application/json"


class SurrogateCheckedRoute(APIRoute):
    """An ``APIRoute`` that answers 422 (``InvalidUnicode``) for a body with a lone surrogate.

    The body is read and parsed once: both are cached on the request, where FastAPI finds them.
    A body with no backslash and no 0xED byte (nearly all) costs two byte scans, under a
    microsecond, before the fast parse.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        endpoint = self.endpoint
        fast: tuple[type[BaseModel], Callable[[Request], Awaitable[Any]]] | None
        fast = getattr(endpoint, _DIRECT, None)

        async def checked(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH"):
                body = await request.body()
                # memchr-fast byte tests first: the regex reads ~7 ns a byte, 60 us for a
                # search body with a 384-d vector
                if (b"\\" in body or b"\xed" in body) and _MAYBE.search(body):
                    try:
                        # cached on the request: the endpoint's own parse reuses it
                        parsed = await request.json()
                    except ValueError:
                        parsed = None  # not JSON: FastAPI's own error says so
                    problem = lone_surrogate(parsed)
                    if problem:
                        raise InvalidUnicode(problem)
                elif body:
                    # refused: FastAPI's json.loads parses it, or says what is wrong
                    with suppress(ValueError):
                        # Starlette's cache of request.json(), which FastAPI's handler calls
                        request._json = from_json(body, allow_inf_nan=False)
                if fast is not None and hasattr(request, "_json") and _json_type(request):
                    model, resolve = fast
                    try:
                        valid = model.model_validate(request._json)
                    except ValidationError:
                        return await handler(request)  # FastAPI's 422, as ever
                    return await endpoint(valid, await resolve(request), request)
            return await handler(request)

        return checked
