"""Smart suggestions per object: which host option and meeting type a booking starts with.

The router graph comes first: the ``suggest_booking`` of the nodes on the record's path (see
``GraphSuggestion``), host and meeting type each on its own. Then rules: they are the object's ``suggestions``, tried in order with the condition language
(``routing.conditions``) over the record's facts; the first rule that suggests a host sets the
host, the first that suggests a meeting type sets the type. Without a rule the object's
``default_host`` and ``default_type`` apply, unlocked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from routing.base import Strict
from routing.booking.config import (
    BookingSettings,
    HostOption,
    SuggestedChoice,
    suggested_choice_problems,
)
from routing.conditions import Condition, evaluate

CLOCK_OPS = frozenset({"within_last_days"})
NO_CLOCK = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Suggestion:
    host: HostOption
    host_locked: bool
    meeting_type: str
    meeting_type_locked: bool
    host_rule: str | None = None
    meeting_type_rule: str | None = None


class GraphSuggestion(Strict):
    """What the nodes on a router graph path suggest for bookings, with the node each part came from."""

    host: HostOption | None = None
    lock_host: bool = False
    host_node: str | None = None
    meeting_type: str | None = None
    lock_meeting_type: bool = False
    meeting_type_node: str | None = None


def along_path(steps: Iterable[tuple[str, SuggestedChoice | None]]) -> GraphSuggestion | None:
    """The suggestion of a path's (node name, ``suggest_booking``) pairs, in walk order: the node
    nearest the end of the path wins, host and meeting type each on its own; None when no node suggests."""
    parts: dict[str, object] = {}
    for node, choice in steps:
        if choice is None:
            continue
        if choice.host is not None:
            parts.update(host=choice.host, lock_host=choice.lock_host, host_node=node)
        if choice.meeting_type is not None:
            parts.update(meeting_type=choice.meeting_type, lock_meeting_type=choice.lock_meeting_type,
                         meeting_type_node=node)
    return GraphSuggestion.model_validate(parts) if parts else None


def still_valid(
    graph: GraphSuggestion | None, settings: BookingSettings, object_type: str, team_names: set[str]
) -> GraphSuggestion | None:
    """A recorded graph suggestion without the parts today's booking section can no longer honour (a meeting
    type, pool or host option removed since the routing decision); None when nothing is left."""
    if graph is None:
        return None
    parts = graph.model_dump()
    if graph.host is not None and suggested_choice_problems(
        settings, object_type, SuggestedChoice(host=graph.host), "host", team_names
    ):
        parts.update(host=None, lock_host=False, host_node=None)
    if graph.meeting_type is not None and suggested_choice_problems(
        settings, object_type, SuggestedChoice(meeting_type=graph.meeting_type), "meeting_type", team_names
    ):
        parts.update(meeting_type=None, lock_meeting_type=False, meeting_type_node=None)
    kept = GraphSuggestion.model_validate(parts)
    return kept if kept.host is not None or kept.meeting_type is not None else None


def _reads_clock(condition: Condition) -> bool:
    if condition.op is not None:
        return condition.op in CLOCK_OPS
    children = condition.all or condition.any or ((condition.not_,) if condition.not_ else ())
    return any(_reads_clock(child) for child in children)


def suggest(
    settings: BookingSettings,
    object_type: str,
    record_fields: Mapping[str, Any],
    now: datetime | None = None,
    graph: GraphSuggestion | None = None,
) -> Suggestion:
    """The suggested host option and meeting type for a record, each possibly locked.

    ``graph`` is the router graph's suggestion for the record; each part it names wins over the rules.

    ``record_fields`` is the facts mapping (record fields by API name, optionally the facts of
    ``routing.facts.facts_for``). ``now`` is needed only by rules using ``within_last_days``.
    KeyError when the object has no booking settings.
    """
    defaults = settings.for_object(object_type)
    host: tuple[HostOption, bool, str] | None = None
    meeting_type: tuple[str, bool, str] | None = None
    if graph is not None and graph.host is not None:
        host = (graph.host, graph.lock_host, f"graph node {graph.host_node}")
    if graph is not None and graph.meeting_type is not None:
        meeting_type = (graph.meeting_type, graph.lock_meeting_type, f"graph node {graph.meeting_type_node}")
    for rule in defaults.suggestions:
        if (host is not None or rule.host is None) and (
            meeting_type is not None or rule.meeting_type is None
        ):
            continue
        if _reads_clock(rule.when) and now is None:
            raise ValueError(f"suggestion {rule.name!r} uses within_last_days: pass now")
        if not evaluate(rule.when, record_fields, now or NO_CLOCK):
            continue
        if host is None and rule.host is not None:
            host = (rule.host, rule.lock_host, rule.name)
        if meeting_type is None and rule.meeting_type is not None:
            meeting_type = (rule.meeting_type, rule.lock_meeting_type, rule.name)
    chosen_host = host or (defaults.default_host, False, None)
    chosen_type = meeting_type or (defaults.default_type, False, None)
    return Suggestion(
        host=chosen_host[0],
        host_locked=chosen_host[1],
        meeting_type=chosen_type[0],
        meeting_type_locked=chosen_type[1],
        host_rule=chosen_host[2],
        meeting_type_rule=chosen_type[2],
    )
