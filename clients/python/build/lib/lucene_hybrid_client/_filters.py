"""Filters: the server's filter language, plus the {"key": value} shorthand vector stores use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NODES = {"field", "and", "or", "not"}


def to_server_filter(f: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Pass a server filter through; turn ``{"a": 1, "b": [2, 3]}`` into eq / in conditions."""
    if not f:
        return None
    if _NODES & set(f):
        return dict(f)
    conds = [
        {"field": k, "op": "in" if isinstance(v, (list, tuple)) else "eq", "value": v}
        for k, v in f.items()
    ]
    return conds[0] if len(conds) == 1 else {"and": conds}
