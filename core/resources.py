"""Files the package ships as data, found through importlib.resources (a wheel as a checkout)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def config_path(*parts: str) -> Path:
    """A path inside the packaged ``configs/`` (``server.yaml``, ``eval/<preset>.yaml``)."""
    return Path(str(resources.files("lucene_hybrid.configs").joinpath(*parts)))
