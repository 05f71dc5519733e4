"""Packaged configuration: server.yaml (the server defaults), eval/*.yaml (evaluation presets)."""
