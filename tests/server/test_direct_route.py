"""`direct`: an endpoint called without FastAPI's dependency and validation pass, only when the
body is JSON that validates; everything else, errors included, goes FastAPI's way."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from lucene_hybrid.server.api.surrogates import SurrogateCheckedRoute, direct


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = 1


CALLS: list[str] = []


def lookup(name: str, how: str) -> str:
    CALLS.append(how)
    if name == "missing":
        raise HTTPException(404, f"no {name}")
    return name.upper()


async def dependency(name: str) -> str:
    return lookup(name, "fastapi")


async def resolve(request: Request) -> str:
    return lookup(request.path_params["name"], "direct")


router = APIRouter(route_class=SurrogateCheckedRoute)


@router.post("/things/{name}")
@direct(Item, resolve)
async def endpoint(
    body: Item, owner: Annotated[str, Depends(dependency)], request: Request
) -> Response:
    out = {"owner": owner, "item": body.model_dump(), "path": request.url.path}
    return Response(json.dumps(out), media_type="application/json")


def make_client() -> tuple[TestClient, list[str]]:
    app = FastAPI()
    app.include_router(router)
    CALLS.clear()
    return TestClient(app), CALLS


def test_a_valid_json_body_calls_the_endpoint_directly():
    client, calls = make_client()
    r = client.post("/things/box", json={"name": "a", "size": 3})
    assert r.status_code == 200
    assert r.json() == {"owner": "BOX", "item": {"name": "a", "size": 3}, "path": "/things/box"}
    assert calls == ["direct"]


@pytest.mark.parametrize(
    "body",
    [{"name": "a", "size": "big"}, {"size": 2}, {"name": "a", "extra": 1}, [1, 2], None],
    ids=["bad-type", "missing", "extra", "array", "null"],
)
def test_a_body_that_does_not_validate_gets_fastapis_422(body):
    client, calls = make_client()
    r = client.post("/things/box", json=body)
    assert r.status_code == 422
    assert calls == ["fastapi"]
    locs = [e["loc"] for e in r.json()["detail"]]
    assert all(loc[0] == "body" for loc in locs)  # FastAPI's own error, not pydantic's


def test_other_content_types_and_unparsable_bodies_go_fastapis_way():
    client, calls = make_client()
    body = json.dumps({"name": "a"}).encode()
    for headers in ({}, {"Content-Type": "text/plain"}):  # FastAPI reads neither as JSON
        r = client.post("/things/box", content=body, headers=headers)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    r = client.post(
        "/things/box", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    assert calls == ["fastapi"] * 2  # FastAPI reports bad JSON before solving dependencies
    r = client.post(
        "/things/box", content=body, headers={"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert r.status_code == 200 and calls[-1] == "direct"


def test_the_dependencys_error_comes_first_on_both_paths():
    client, calls = make_client()
    for body in ({"name": "a"}, {"name": 5}):  # valid (direct) and not (FastAPI's path)
        r = client.post("/things/missing", json=body)
        assert (r.status_code, r.json()) == (404, {"detail": "no missing"})
    assert calls == ["direct", "fastapi"]
