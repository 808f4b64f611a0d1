"""The flat facts mapping that conditions read: record fields plus what the stages found."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DERIVED_PREFIX = "derived."
MATCH_PREFIX = "match."
TAGS_KEY = "tags"
TERRITORY_KEY = "territory"


def facts_for(
    fields: Mapping[str, Any],
    derived: Mapping[str, Any] | None = None,
    tags: Iterable[str] = (),
    territory: str | None = None,
    match: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record fields under their API names, ``derived.<k>``, ``tags``, ``territory``, ``match.<k>``."""
    facts: dict[str, Any] = dict(fields)
    if derived:
        facts.update({DERIVED_PREFIX + name: value for name, value in derived.items()})
    if match:
        facts.update({MATCH_PREFIX + name: value for name, value in match.items()})
    facts[TAGS_KEY] = tags if isinstance(tags, frozenset) else frozenset(tags)
    facts[TERRITORY_KEY] = territory
    return facts
