"""The REST API: app factory, models, routes, metrics."""
