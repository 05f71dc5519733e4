"""A real two-node Ray cluster on loopback for the cluster tests, and a corpus of a few thousand
real documents: the paragraphs of Python's own reference topics (``pydoc_data``), which every
Python ships."""

from __future__ import annotations

import os

import pytest
from serverproc import RAY_LOOPBACK

# This process runs a JVM beside Ray's driver: Ray's failure signal handler must stay off in it
# (and in every worker the cluster starts), as lucene_hybrid.cluster keeps it off.
NO_SIGNAL_HANDLER = {"RAY_DISABLE_FAILURE_SIGNAL_HANDLER": "1"}


@pytest.fixture(scope="session")
def ray_cluster():
    """Two Ray nodes (a head and a worker) started by the test and stopped after it: never
    ``ray stop``, which would end every Ray process on the machine."""
    os.environ.update({**RAY_LOOPBACK, **NO_SIGNAL_HANDLER})
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    from lucene_hybrid.cluster import connect_ray

    connect_ray(cluster.address)  # this process's JVM keeps its signal handlers
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def pydoc_docs(minilm):
    """About 1,500 real paragraphs with ids, metadata and their vectors from the real model."""
    from pydoc_data.topics import topics

    from lucene_hybrid.server import DocIn

    paragraphs = [
        p.strip()
        for name in sorted(topics)
        for p in topics[name].split("\n\n")
        if len(p.strip()) > 80
    ][:1500]
    vectors = minilm.encode_documents(paragraphs)
    return [
        DocIn(id=f"p{i:05d}", text=text, metadata={"n": i % 7, "long": len(text) > 400}, vector=v)
        for i, (text, v) in enumerate(zip(paragraphs, vectors, strict=True))
    ]
