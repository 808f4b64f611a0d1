"""Routing keys of the log stream: ``<kind>.<object>.<team>.<outcome>`` on a topic exchange.

A key segment never holds a dot (the topic separator), a space, ``*`` or ``#``: anything outside
``[A-Za-z0-9_-]`` becomes ``_``. A missing segment (a record routed to no team) is ``none``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

KINDS = ("assignment", "booking")
NO_VALUE = "none"
ANY = "*"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def segment(value: str | None) -> str:
    """One key segment: dots, spaces and wildcards folded to ``_``; empty or None is ``none``."""
    if value is None or not value.strip():
        return NO_VALUE
    return _UNSAFE.sub("_", value.strip())


def routing_key(kind: str, object_type: str | None, team: str | None, outcome: str | None) -> str:
    return ".".join(segment(part) for part in (kind, object_type, team, outcome))


def binding_keys(
    kinds: Sequence[str] = (),
    objects: Sequence[str] = (),
    teams: Sequence[str] = (),
    outcomes: Sequence[str] = (),
) -> list[str]:
    """The keys a follower binds for its filters: one per combination; an empty filter matches all (``*``)."""

    def choices(values: Sequence[str]) -> list[str]:
        return sorted({segment(value) for value in values}) or [ANY]

    return [".".join(parts) for parts in itertools.product(
        choices(kinds), choices(objects), choices(teams), choices(outcomes))]
