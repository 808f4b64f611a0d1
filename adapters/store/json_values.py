"""JSON column values: a pydantic model is encoded once, by pydantic, with no dict built in between.

The assign stage stores every decision's whole log; ``model_dump(mode="json")`` followed by ``json.dumps``
costs about three times what ``model_dump_json`` does, and it runs once per record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel


def encode_json(value: object) -> str:
    """The engines' JSON serializer: column values as JSON text (a model through pydantic)."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value)


def encode_rows(rows: Sequence[Mapping[str, Any]], dumps: Callable[[object], str]) -> str:
    """A JSON array of row objects whose model values (e.g. an assignment's log) pydantic encodes."""
    parts: list[str] = []
    for row in rows:
        models = [(key, value) for key, value in row.items() if isinstance(value, BaseModel)]
        if not models:
            parts.append(dumps(row))
            continue
        plain = dumps({key: value for key, value in row.items() if not isinstance(value, BaseModel)})
        encoded = ",".join(f"{json.dumps(key)}:{value.model_dump_json()}" for key, value in models)
        parts.append(f"{plain[:-1]}{',' if len(plain) > 2 else ''}{encoded}}}")
    return f"[{','.join(parts)}]"
