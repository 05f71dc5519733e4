"""The real app (real Lucene, real model) through FastAPI's TestClient."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lucene_hybrid.server.api.app import create_app
from lucene_hybrid.server.settings import load_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """An open server (no API keys) with the demo collection built on startup."""
    data = tmp_path_factory.mktemp("server")
    settings = load_settings(data_dir=data, demo_collection=True, commit_interval_s=0.2)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def keyed_client(tmp_path_factory):
    """A server whose writes (and, with read_requires_key, reads) need a Bearer key."""
    data = tmp_path_factory.mktemp("keyed")
    settings = load_settings(data_dir=data, demo_collection=False, api_keys=["s3cret", "other"])
    with TestClient(create_app(settings)) as c:
        yield c
