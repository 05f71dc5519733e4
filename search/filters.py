"""Metadata filters: a small typed language (eq, ne, in, nin, gt, gte, lt, lte; and, or, not).

Filters are validated here and handed to Lucene as JSON (``io.lucenehybrid.Metadata``), where
they restrict both retrievers before ranking. ``ne`` and ``nin`` also match documents that lack
the field, as in MongoDB and Qdrant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

Scalar = Union[str, int, float, bool]  # noqa: UP007 - pydantic needs the runtime Union here
MAX_DEPTH = 8
MAX_VALUES = 1024


class Condition(BaseModel):
    """One comparison of a metadata field (dotted path for nested objects) with a value."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    field: str = Field(min_length=1, max_length=256)
    op: Literal["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte"] = "eq"
    value: Scalar | list[Scalar]

    @field_validator("value", mode="before")
    @classmethod
    def _scalars(cls, value: Any) -> Any:
        # Said once, not as each of the union's five types refusing it.
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float)) for v in items):  # bool is an int
            raise ValueError(
                "a value is a string, number or boolean (for in / nin, a list of them), "
                f"not {value!r:.80}"
            )
        return value

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in ("in", "nin"):
            if not isinstance(self.value, list) or not 0 < len(self.value) <= MAX_VALUES:
                raise ValueError(f"'{self.op}' needs a list of 1 to {MAX_VALUES} values")
        elif isinstance(self.value, list):
            raise ValueError(f"'{self.op}' needs a single value, not a list")
        if self.op in ("gt", "gte", "lt", "lte") and (
            isinstance(self.value, bool) or not isinstance(self.value, (int, float))
        ):
            raise ValueError(f"'{self.op}' compares numbers; got {self.value!r}")
        return self


class And(BaseModel):
    model_config = ConfigDict(extra="forbid")
    and_: list[Filter] = Field(alias="and", min_length=1, max_length=64)


class Or(BaseModel):
    model_config = ConfigDict(extra="forbid")
    or_: list[Filter] = Field(alias="or", min_length=1, max_length=64)


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid")
    not_: Filter = Field(alias="not")


def _kind(value: Any) -> str:
    """Which kind of filter ``value`` is meant to be, from its keys: validation then reports
    what is wrong with that kind alone, not why it fits none of the four."""
    if isinstance(value, dict):
        return next((_TAGS[key] for key in ("and", "or", "not") if key in value), "Condition")
    return type(value).__name__ if isinstance(value, (And, Or, Not)) else "Condition"


_TAGS = {"and": "And", "or": "Or", "not": "Not"}
# The tags name the four kinds in a validation error's location; error messages leave them out.
TAGS = frozenset(("Condition", *_TAGS.values()))

Filter = Annotated[
    Union[  # noqa: UP007
        Annotated[Condition, Tag("Condition")],
        Annotated[And, Tag("And")],
        Annotated[Or, Tag("Or")],
        Annotated[Not, Tag("Not")],
    ],
    Discriminator(_kind),
]
And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()

_adapter: TypeAdapter[Any] = TypeAdapter(Filter)


def _depth(f: Any) -> int:
    if isinstance(f, And):
        return 1 + max(_depth(c) for c in f.and_)
    if isinstance(f, Or):
        return 1 + max(_depth(c) for c in f.or_)
    if isinstance(f, Not):
        return 1 + _depth(f.not_)
    return 1


def error_path(loc: Iterable[str | int]) -> str:
    """A validation error's location as a dotted path of fields, without the kinds of filter
    validated on the way (``TAGS``): e.g. ``filter.and.0.op``."""
    return ".".join(str(p) for p in loc if p not in TAGS)


def parse_filter(value: Any) -> Filter:
    """Validate a filter given as a dict (or JSON text).

    Raises:
        ValueError: naming what is wrong, e.g. "filter.and.0.op: Input should be ...".
    """
    try:
        f = (
            _adapter.validate_json(value)
            if isinstance(value, str)
            else _adapter.validate_python(value)
        )
    except ValidationError as exc:
        parts = (f"{error_path(('filter', *e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError("; ".join(parts)) from None
    if _depth(f) > MAX_DEPTH:
        raise ValueError(f"filter nests deeper than {MAX_DEPTH} levels")
    return f


def filter_json(f: Filter | None) -> str | None:
    """The JSON form Lucene's side reads (aliases: and / or / not)."""
    if f is None:
        return None
    return json.dumps(_adapter.dump_python(f, by_alias=True, mode="json"))
