"""Typed rows as the column -> value dicts SQLAlchemy takes: a row's fields are named as its table's columns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

_getters: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def row_values(row: Any) -> dict[str, Any]:
    """One slots dataclass row's fields as a dict (the assign stage's hot path: no ``dataclasses.asdict``)."""
    kind = type(row)
    found = _getters.get(kind)
    if found is None:
        names: tuple[str, ...] = kind.__slots__
        found = _getters[kind] = (names, attrgetter(*names))
    names, get = found
    return dict(zip(names, get(row)))


def rows_values(rows: Iterable[Any], **constants: Any) -> list[dict[str, Any]]:
    """Each row's values, with ``constants`` (columns every new row gets the same value for) added."""
    found = [row_values(row) for row in rows]
    if constants:
        for values in found:
            values.update(constants)
    return found
