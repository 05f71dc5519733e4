"""Run the app under uvicorn, with the project's HTTP protocol and logging."""

from __future__ import annotations

from lucene_hybrid.server.registry import Sharding
from lucene_hybrid.server.settings import ServerSettings


def serve(settings: ServerSettings, sharding: Sharding | None = None) -> None:
    """Serve until SIGINT/SIGTERM; collections commit and close on the way out.

    Args:
        settings: The validated server settings (``load_settings``).
        sharding: How to serve sharded collections, on a cluster (None: in one process).
    """
    import uvicorn

    from lucene_hybrid.server.api.app import create_app
    from lucene_hybrid.server.api.protocol import ConnectionStats, connection_cap, protocol_for
    from lucene_hybrid.server.logs import log_config

    max_connections = connection_cap(settings.limits.max_connections)
    app, stats = create_app(settings, max_connections, sharding), ConnectionStats()
    app.state.metrics.connections.stats = stats  # /metrics reports what the protocol counts
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol_for(settings.limits, max_connections, stats),  # JSON errors, bounds
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        timeout_graceful_shutdown=10,
    )
