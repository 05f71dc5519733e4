"""The client's retry and error mapping, over an in-process transport that answers like the
server does (status codes and JSON error bodies); the real server is in tests/server."""

from __future__ import annotations

import httpx
import pytest
from lucene_hybrid_client import (
    AsyncClient,
    Client,
    InsufficientStorage,
    InvalidRequest,
    NotFound,
    Overloaded,
    Unauthorized,
)


def answers(*responses: tuple[int, dict, dict]):
    calls: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        status, body, headers = queue.pop(0)
        return httpx.Response(status, json=body, headers=headers)

    return calls, handler


def err(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


OK = {"collection": "c", "mode": "hybrid", "hits": []}


def test_503_is_retried_with_backoff_honouring_retry_after():
    calls, handler = answers(
        (503, err("overloaded", "busy"), {"Retry-After": "0"}),
        (503, err("overloaded", "busy"), {}),
        (200, OK, {}),
    )
    client = Client("http://x", api_key="k1", transport=httpx.MockTransport(handler), backoff=0.01)
    assert client.search("c", "q").hits == []
    assert len(calls) == 3 and calls[0].headers["authorization"] == "Bearer k1"


def test_retries_give_up_with_the_servers_error():
    calls, handler = answers(*[(503, err("out_of_memory", "raise jvm_heap"), {})] * 3)
    client = Client("http://x", transport=httpx.MockTransport(handler), retries=2, backoff=0.01)
    with pytest.raises(Overloaded) as info:
        client.search("c", "q")
    assert info.value.type == "out_of_memory" and "jvm_heap" in str(info.value) and len(calls) == 3


@pytest.mark.parametrize(
    "status, cls",
    [
        (404, NotFound),
        (422, InvalidRequest),
        (401, Unauthorized),
        (403, Unauthorized),
        (507, InsufficientStorage),
    ],
)
def test_error_bodies_become_typed_exceptions_without_retry(status, cls):
    calls, handler = answers((status, err("kind", "what was wrong"), {}))
    client = Client("http://x", transport=httpx.MockTransport(handler))
    with pytest.raises(cls) as info:
        client.get_collection("c")
    assert info.value.status == status and info.value.message == "what was wrong"
    assert len(calls) == 1


async def test_async_client_retries_too():
    calls, handler = answers((503, err("overloaded", "busy"), {}), (200, OK, {}))
    client = AsyncClient("http://x", transport=httpx.MockTransport(handler), backoff=0.01)
    assert (await client.search("c", "q", mode="bm25", k=3)).mode == "hybrid"
    assert len(calls) == 2 and b'"mode":"bm25"' in calls[1].content.replace(b" ", b"")
    await client.close()
