"""The router graph: which events route at all, and which action a record's facts lead to.

A graph is declared per object in the org's YAML (``graphs: {Lead: {nodes: {...}}}``). It has one
trigger node, then decision, switch and match nodes that branch on the flat facts mapping, and
action nodes that end the walk. ``route`` walks it and returns the action plus the path taken,
node by node, for the assignment log. Any node may carry ``suggest_booking`` (a host option and/or
meeting type for hand-over bookings, each possibly locked): the walk records what its path suggests,
and ``booking_walk`` walks the graph at booking time for a record that was never routed. ``validate_graph`` lists every structural problem with its
path, for ``baton check``; a ``Graph`` with such problems also fails to load.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from kernel.errors import ConfigError
from routing.base import Strict
from routing.booking.config import BookingSettings, SuggestedChoice, suggested_choice_problems
from routing.booking.suggest import GraphSuggestion, along_path
from routing.changes import ChangeType
from routing.conditions import Condition, evaluate, explain
from routing.facts import MATCH_PREFIX
from routing.teams import Method

QUEUE_ID_PREFIX = "00G"
USER_ID_PREFIX = "005"
SALESFORCE_ID_LENGTHS = (15, 18)
OWNER_FIELD = "OwnerId"
MATCH_OBJECT = MATCH_PREFIX + "object"
MATCH_RECORD_ID = MATCH_PREFIX + "record_id"
MATCH_OWNER_ID = MATCH_PREFIX + "owner_id"
MATCH_SCORE = MATCH_PREFIX + "score"

EDGE_KEYS = ("next", "then", "else", "default", "matched", "unmatched")
VALUE_ERROR_PREFIX = "Value error, "

NodeName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]


@dataclass(frozen=True)
class TriggerInput:
    """What happened to the record, as far as the event tells.

    ``changed_fields`` is None when the event does not say (outbound messages carry no change
    list); ``by_baton`` is True when Baton itself made the change (loop guard).
    """

    change: ChangeType  # the record event's change type, reused as is
    owner_id: str | None = None
    changed_fields: frozenset[str] | None = None
    by_baton: bool = False
    at: datetime | None = None  # the event's time (delay nodes count from it); None: no delay waits


@dataclass(frozen=True)
class TriggerDecision:
    routes: bool
    reason: str


# ---------------------------------------------------------------------------------------------
# Actions: what a walk ends in. Some are also node kinds of their own.


class Suggests(Strict):
    """A node that may suggest a host and meeting type for bookings on the records it sees."""

    suggest_booking: SuggestedChoice | None = Field(
        default=None,
        description="booking suggestion for records whose path passes here; nodes nearer the action win",
    )


class AssignTeam(Suggests):
    """Give the record to a team; its distribution method picks the member."""

    kind: Literal["assign_team"] = "assign_team"
    team: str = Field(min_length=1)
    method: Method | None = Field(default=None, description="overrides the team's own method")
    required_skills: frozenset[str] = frozenset()

    def describe(self) -> str:
        details = [self.method.value] if self.method else []
        if self.required_skills:
            details.append(f"skills {', '.join(sorted(self.required_skills))}")
        return f"assign to team {self.team}" + (f" ({'; '.join(details)})" if details else "")


class FixedOwner(Suggests):
    """Give the record to one user or queue id."""

    kind: Literal["assign_owner"] = "assign_owner"
    owner_id: str = Field(min_length=15, max_length=18)

    def describe(self) -> str:
        return f"assign to {_owner_label(self.owner_id)} {self.owner_id}"


Fallback = AssignTeam | FixedOwner


class AssignOwner(Strict):
    """Give the record to a known owner id; ``fallback`` applies when that owner cannot take it
    (e.g. the user is inactive), which only the owner-selection stage can tell."""

    kind: Literal["assign_owner"] = "assign_owner"
    owner_id: str
    source: str
    fallback: Fallback | None = None


class Hold(Suggests):
    """Leave the record where it is and look again later."""

    kind: Literal["hold"] = "hold"
    reason: str = Field(min_length=1)

    def describe(self) -> str:
        return f"hold: {self.reason}"


class Stop(Suggests):
    """End routing without changing the owner."""

    kind: Literal["stop"] = "stop"
    reason: str = "no change"

    def describe(self) -> str:
        return f"stop: {self.reason}"


class Wait(Strict):
    """A delay node's wait is not over: the record waits (held, in the store) until ``until``, then is routed
    again and goes on past the node."""

    kind: Literal["wait"] = "wait"
    until: datetime
    reason: str


Action = Annotated[AssignTeam | AssignOwner | Hold | Stop | Wait, Field(discriminator="kind")]


# ---------------------------------------------------------------------------------------------
# Nodes.


class TriggerNode(Suggests):
    """Which events route at all. Deletes and Baton's own changes never do."""

    kind: Literal["trigger"]
    on_create: bool = True
    on_undelete: bool = False
    when_owner_is_queue: bool = True
    when_fields_change: frozenset[str] = frozenset()
    when_changes_unknown: bool = Field(
        default=False,
        description="route updates whose event carries no change list (outbound messages whose "
        "workflow rule already filtered them)",
    )
    allow_manual_owner_change: bool = False
    next: NodeName

    def edges(self) -> tuple[tuple[str, str], ...]:
        return (("next", self.next),)


class DecisionNode(Suggests):
    """True/false on one condition."""

    kind: Literal["decision"]
    condition: Condition
    then: NodeName
    else_: NodeName = Field(alias="else")

    def edges(self) -> tuple[tuple[str, str], ...]:
        return (("then", self.then), ("else", self.else_))


class Branch(Strict):
    when: Condition
    next: NodeName
    label: str | None = None


class SwitchNode(Suggests):
    """Multi-branch: the first branch whose condition holds, else ``default``."""

    kind: Literal["switch"]
    branches: list[Branch] = Field(min_length=1)
    default: NodeName | None = Field(default=None, description="required; checked with the graph")

    def edges(self) -> tuple[tuple[str, str], ...]:
        edges = tuple(
            (f"branches[{index}].next", branch.next) for index, branch in enumerate(self.branches)
        )
        return edges + ((("default", self.default),) if self.default is not None else ())


class DelayNode(Suggests):
    """Waits ``minutes`` after the record's event before going on to ``next`` (e.g. to let the owner a web form
    set act first): until then the record is held in the store, re-checked when the wait ends (restarts
    keep it). The wait counts from the event's time, so a re-check finds it over."""

    kind: Literal["delay"]
    minutes: int = Field(ge=1, le=7 * 24 * 60)
    next: NodeName

    def edges(self) -> tuple[tuple[str, str], ...]:
        return (("next", self.next),)


class MatchNode(Suggests):
    """Branches on the match stage's result: matched when it found a record of ``match``'s object
    (case-insensitive) with at least ``min_score``."""

    kind: Literal["match"]
    match: str = Field(min_length=1, description="object the match must have found, e.g. account")
    min_score: float | None = Field(default=None, description="lowest match score (0-100) that counts")
    matched: NodeName
    unmatched: NodeName

    def edges(self) -> tuple[tuple[str, str], ...]:
        return (("matched", self.matched), ("unmatched", self.unmatched))


class WithFallback(Suggests):
    """An owner lookup with a fallback for when it finds no one who can take the record."""

    fallback: Fallback

    @field_validator("fallback")
    @classmethod
    def _fallback_suggests_nothing(cls, fallback: Fallback) -> Fallback:
        if fallback.suggest_booking is not None:
            raise ValueError("suggest_booking goes on the node itself, not on its fallback")
        return fallback


class RelatedOwnerNode(WithFallback):
    """Assign to the owner of the record the match stage found (e.g. the account owner)."""

    kind: Literal["assign_related_owner"]
    match: str | None = Field(default=None, description="object the match must be, if any")


class UserFieldNode(WithFallback):
    """Assign to the user a lookup field of the record names (e.g. ``Referrer__c``)."""

    kind: Literal["assign_user_field"]
    user_field: str = Field(min_length=1)


Node = Annotated[
    TriggerNode
    | DecisionNode
    | SwitchNode
    | MatchNode
    | DelayNode
    | AssignTeam
    | RelatedOwnerNode
    | UserFieldNode
    | FixedOwner
    | Hold
    | Stop,
    Field(discriminator="kind"),
]
BRANCHING_NODES = (TriggerNode, DecisionNode, SwitchNode, MatchNode, DelayNode)
NODE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Node)


def node_edges(node: object) -> tuple[tuple[str, str], ...]:
    """(field path, target node) for each outgoing edge; actions have none."""
    return node.edges() if isinstance(node, (*BRANCHING_NODES, _Unparsed)) else ()


def team_references(node: object) -> Iterable[tuple[str, str]]:
    """(field path, team name) for each team a node may assign to."""
    if isinstance(node, AssignTeam):
        yield "team", node.team
    elif isinstance(node, RelatedOwnerNode | UserFieldNode):
        if isinstance(node.fallback, AssignTeam):
            yield "fallback.team", node.fallback.team


class Graph(Strict):
    """One object's router graph: node name -> node, exactly one of them the trigger."""

    description: str = ""
    nodes: dict[NodeName, Node] = Field(min_length=1)

    @model_validator(mode="after")
    def _well_formed(self) -> Graph:
        problems = structure_problems(self.nodes, where="")
        if problems:
            raise ValueError("\n".join(f"{path}: {message}" for path, message in problems))
        return self

    @property
    def trigger_name(self) -> str:
        return next(name for name, node in self.nodes.items() if isinstance(node, TriggerNode))

    @property
    def trigger(self) -> TriggerNode:
        node = self.nodes[self.trigger_name]
        assert isinstance(node, TriggerNode)
        return node


# ---------------------------------------------------------------------------------------------
# Validation.

Problem = tuple[str, str]


def _join(where: str, *parts: str) -> str:
    return ".".join(part for part in (where, *parts) if part)


def structure_problems(nodes: Mapping[str, object], where: str) -> list[Problem]:
    """Trigger count, unknown targets, missing defaults, cycles and unreachable nodes."""
    problems: list[Problem] = []
    triggers = [name for name, node in nodes.items() if isinstance(node, TriggerNode)]
    if not triggers:
        problems.append((_join(where, "nodes"), "no trigger node: the graph has no start"))
    elif len(triggers) > 1:
        message = f"more than one trigger node: {', '.join(triggers)}"
        problems.append((_join(where, "nodes"), message))
    for name, node in nodes.items():
        if isinstance(node, SwitchNode) and node.default is None:
            problems.append(
                (_join(where, "nodes", name, "default"), "a multi-branch decision needs a default")
            )
        for field_path, target in node_edges(node):
            path = _join(where, "nodes", name, field_path)
            if target not in nodes:
                problems.append((path, f"unknown node {target!r}"))
            elif isinstance(nodes[target], TriggerNode):
                problems.append((path, f"{target!r} is the trigger node; no edge may lead to it"))
    problems.extend(
        (_join(where, "nodes", cycle[0]), _cycle_text(cycle)) for cycle in find_cycles(nodes)
    )
    if triggers:
        reached = reachable(nodes, triggers)
        problems.extend(
            (_join(where, "nodes", name), "unreachable from the trigger node")
            for name in nodes
            if name not in reached
        )
    return problems


def _cycle_text(cycle: list[str]) -> str:
    return "cycle: " + " -> ".join([*cycle, cycle[0]])


def _successors(nodes: Mapping[str, object], name: str) -> list[str]:
    return [target for _, target in node_edges(nodes[name]) if target in nodes]


def reachable(nodes: Mapping[str, object], starts: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(starts)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_successors(nodes, name))
    return seen


def find_cycles(nodes: Mapping[str, object]) -> list[list[str]]:
    """One entry per distinct cycle found by depth-first search, each as its nodes in order."""
    finished: set[str] = set()
    cycles: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    for root in nodes:
        if root in finished:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(_successors(nodes, root)))]
        on_stack = {root: 0}
        while stack:
            name, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                stack.pop()
                del on_stack[name]
                finished.add(name)
            elif child in on_stack:
                cycle = [entry for entry, _ in stack[on_stack[child] :]]
                if frozenset(cycle) not in seen_sets:
                    seen_sets.add(frozenset(cycle))
                    cycles.append(cycle)
            elif child not in finished:
                on_stack[child] = len(stack)
                stack.append((child, iter(_successors(nodes, child))))
    return cycles


def team_problems(
    nodes: Mapping[str, object], team_names: Collection[str], where: str
) -> list[Problem]:
    known = set(team_names)
    return [
        (_join(where, "nodes", name, field_path), f"unknown team {team!r}")
        for name, node in nodes.items()
        for field_path, team in team_references(node)
        if team not in known
    ]


def _loc_text(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _parse_nodes(raw: Any, where: str) -> tuple[dict[str, object], list[Problem]]:
    """Parse each node on its own, so one bad node does not hide the graph's other problems."""
    if not isinstance(raw, Mapping):
        return {}, [(where or "graph", "a graph must be a mapping with 'nodes'")]
    problems = [
        (_join(where, str(key)), "unknown key (a graph has 'nodes' and 'description')")
        for key in raw
        if key not in Graph.model_fields
    ]
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        return {}, [*problems, (_join(where, "nodes"), "a graph needs a mapping of nodes")]
    nodes: dict[str, object] = {}
    for name, raw_node in raw_nodes.items():
        try:
            nodes[str(name)] = NODE_ADAPTER.validate_python(raw_node)
        except ValidationError as exc:
            kind = raw_node.get("kind") if isinstance(raw_node, Mapping) else None
            for error in exc.errors():
                loc = error["loc"][1:] if error["loc"][:1] == (kind,) else error["loc"]
                path = _join(where, "nodes", str(name), _loc_text(loc))
                problems.append((path, error["msg"].removeprefix(VALUE_ERROR_PREFIX)))
            nodes[str(name)] = _Unparsed(raw_node)
    return nodes, problems


@dataclass(frozen=True)
class _Unparsed:
    """A node that failed to parse. It still exists (edges to it are not 'unknown') and its
    targets are read as well as they can be, so the nodes it leads to are not 'unreachable'."""

    raw: Any

    def edges(self) -> tuple[tuple[str, str], ...]:
        if not isinstance(self.raw, Mapping):
            return ()
        edges = [(key, self.raw.get(key)) for key in EDGE_KEYS]
        branches = self.raw.get("branches")
        if isinstance(branches, list):
            edges += [
                (f"branches[{index}].next", branch.get("next"))
                for index, branch in enumerate(branches)
                if isinstance(branch, Mapping)
            ]
        return tuple((path, target) for path, target in edges if isinstance(target, str))


def suggestion_problems(
    nodes: Mapping[str, object],
    booking: BookingSettings,
    object_type: str,
    team_names: Collection[str],
    where: str,
) -> list[Problem]:
    """Each node's ``suggest_booking`` checked against the booking section for ``object_type``:
    known meeting types and pools, offered to the object."""
    return [
        problem
        for name, node in nodes.items()
        if isinstance(node, Suggests) and node.suggest_booking is not None
        for problem in suggested_choice_problems(
            booking, object_type, node.suggest_booking,
            _join(where, "nodes", name, "suggest_booking"), set(team_names),
        )
    ]


def validate_graph(
    graph: Graph | Mapping[str, Any],
    team_names: Collection[str],
    where: str = "graph",
    booking: BookingSettings | None = None,
    object_type: str | None = None,
) -> list[Problem]:
    """Every problem of one graph, as (path, message) pairs; empty when it is valid.

    ``graph`` may be a loaded ``Graph`` or its raw YAML mapping (so problems that would stop it
    loading are listed too). ``where`` prefixes the paths, e.g. ``graphs.Lead``. With ``booking``
    and ``object_type``, the nodes' booking suggestions are checked against the booking section.
    """
    if isinstance(graph, Graph):
        nodes: Mapping[str, object] = graph.nodes
        problems: list[Problem] = []
    else:
        nodes, problems = _parse_nodes(graph, where)
    if not nodes:
        return problems
    problems += structure_problems(nodes, where) + team_problems(nodes, team_names, where)
    if booking is not None and object_type is not None:
        problems += suggestion_problems(nodes, booking, object_type, team_names, where)
    return problems


def validate_graphs(
    graphs: Mapping[str, Graph | Mapping[str, Any]],
    team_names: Collection[str],
    booking: BookingSettings | None = None,
) -> list[Problem]:
    """Problems of the org's ``graphs`` section, paths starting with ``graphs.<Object>``."""
    return [
        problem
        for object_name, graph in graphs.items()
        for problem in validate_graph(
            graph, team_names, where=f"graphs.{object_name}", booking=booking, object_type=object_name
        )
    ]


# ---------------------------------------------------------------------------------------------
# Trigger.


def _field_names(changed: Iterable[str]) -> set[str]:
    """Changed field names, case-folded; compound parts (``Address.City``) count as each part."""
    names: set[str] = set()
    for name in changed:
        folded = name.casefold()
        names.add(folded)
        names.update(folded.split("."))
    return names


def same_salesforce_id(left: str | None, right: str | None) -> bool:
    """15- and 18-character ids of the same record compare equal."""
    return bool(left and right) and left[:15] == right[:15]  # type: ignore[index]


def is_queue_id(owner_id: str | None) -> bool:
    return bool(owner_id) and owner_id.startswith(QUEUE_ID_PREFIX)  # type: ignore[union-attr]


def decide_trigger(trigger: TriggerNode, event: TriggerInput) -> TriggerDecision:
    """Whether this event routes the record, and why (or why not).

    A manual owner change (OwnerId changed by someone other than Baton) is never overridden
    unless the graph allows it - except a change *to a queue*, which is how people hand a
    record back for routing; it routes when ``when_owner_is_queue`` is on.
    """
    if event.by_baton:
        return TriggerDecision(False, "not routed: Baton's own change")
    if event.change is ChangeType.DELETE:
        return TriggerDecision(False, "not routed: the record was deleted")
    if event.change is ChangeType.REASSIGN:
        return TriggerDecision(True, "routed: reassignment requested")
    owner_is_queue = is_queue_id(event.owner_id)
    changed = _field_names(event.changed_fields) if event.changed_fields is not None else None
    manual_owner_change = (
        event.change is ChangeType.UPDATE
        and changed is not None
        and OWNER_FIELD.casefold() in changed
    )
    if manual_owner_change and not trigger.allow_manual_owner_change:
        if owner_is_queue and trigger.when_owner_is_queue:
            return TriggerDecision(True, f"routed: owner was changed to queue {event.owner_id}")
        return TriggerDecision(False, "not routed: manual owner change (OwnerId set by a person)")
    if event.change is ChangeType.CREATE and trigger.on_create:
        return TriggerDecision(True, "routed: record created")
    if event.change is ChangeType.UNDELETE and trigger.on_undelete:
        return TriggerDecision(True, "routed: record undeleted")
    if owner_is_queue and trigger.when_owner_is_queue:
        return TriggerDecision(True, f"routed: owner is queue {event.owner_id}")
    if manual_owner_change:
        return TriggerDecision(True, "routed: owner changed by a person, and the graph allows it")
    if changed is not None and event.change is ChangeType.UPDATE:
        watched = sorted(f for f in trigger.when_fields_change if f.casefold() in changed)
        if watched:
            return TriggerDecision(True, f"routed: {', '.join(watched)} changed")
    if changed is None and event.change is ChangeType.UPDATE and trigger.when_changes_unknown:
        return TriggerDecision(True, "routed: update without a change list; the graph routes those")
    return TriggerDecision(False, _no_trigger_reason(event.change))


def _no_trigger_reason(change: ChangeType) -> str:
    if change is ChangeType.UPDATE:
        return "not routed: ordinary update, no trigger matched"
    return f"not routed: the graph does not route on {change.value}"


# ---------------------------------------------------------------------------------------------
# Walking the graph.


class PathStep(Strict):
    node: str
    outcome: str
    reason: str


class RoutePlan(Strict):
    """The walk's result: ``action`` is None exactly when the event did not trigger routing."""

    triggered: bool
    reason: str
    action: Action | None = None
    path: tuple[PathStep, ...] = ()
    booking: GraphSuggestion | None = Field(default=None, description="what the path suggests for bookings")


def _match_outcome(node: MatchNode, facts: Mapping[str, Any]) -> tuple[bool, str]:
    record_id = facts.get(MATCH_RECORD_ID)
    found_object = str(facts.get(MATCH_OBJECT) or "")
    if not record_id:
        return False, "no match found"
    found = f"{found_object or 'record'} {record_id}"
    if found_object.casefold() != node.match.casefold():
        return False, f"matched {found}, not a {node.match}"
    score = facts.get(MATCH_SCORE)
    if node.min_score is not None:
        if not isinstance(score, int | float) or score < node.min_score:
            return False, f"matched {found} with score {score}, below {node.min_score}"
    scored = f" (score {score})" if score is not None else ""
    return True, f"matched {found}{scored}"


def _fallback_action(fallback: Fallback, source: str) -> AssignTeam | AssignOwner:
    if isinstance(fallback, AssignTeam):
        return fallback
    return AssignOwner(owner_id=fallback.owner_id, source=f"fallback for {source}")


def _looks_like_owner_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) in SALESFORCE_ID_LENGTHS
        and value.isalnum()
        and value.startswith((USER_ID_PREFIX, QUEUE_ID_PREFIX))
    )


def _owner_label(owner_id: str) -> str:
    return "queue" if is_queue_id(owner_id) else "user"


def _resolved_owner(
    owner_id: Any, source: str, fallback: Fallback, problem: str | None
) -> tuple[AssignTeam | AssignOwner, str]:
    if problem is None and _looks_like_owner_id(owner_id):
        action = AssignOwner(owner_id=owner_id, source=source, fallback=fallback)
        return action, f"assign to {source} {owner_id}"
    why = problem or f"{source} is {owner_id!r}, not a user or queue id"
    action = _fallback_action(fallback, source)
    return action, f"{why}; fallback: {_describe(action)}"


def _describe(action: AssignTeam | AssignOwner) -> str:
    if isinstance(action, AssignTeam):
        return action.describe()
    return f"assign to {_owner_label(action.owner_id)} {action.owner_id} ({action.source})"


def _related_owner_action(
    node: RelatedOwnerNode, facts: Mapping[str, Any]
) -> tuple[AssignTeam | AssignOwner, str]:
    found_object = str(facts.get(MATCH_OBJECT) or "")
    problem = None
    if not facts.get(MATCH_RECORD_ID):
        problem = "no matched record"
    elif node.match is not None and found_object.casefold() != node.match.casefold():
        problem = f"matched a {found_object or 'record'}, not a {node.match}"
    source = f"owner of matched {found_object or 'record'} {facts.get(MATCH_RECORD_ID)}"
    return _resolved_owner(facts.get(MATCH_OWNER_ID), source, node.fallback, problem)


def _action_for(node: object, facts: Mapping[str, Any]) -> tuple[Any, str, str]:
    """(action, outcome, reason) for an action node."""
    if isinstance(node, AssignTeam):
        return node, "assign", node.describe()
    if isinstance(node, FixedOwner):
        return AssignOwner(owner_id=node.owner_id, source="fixed owner"), "assign", node.describe()
    if isinstance(node, RelatedOwnerNode):
        action, reason = _related_owner_action(node, facts)
        return action, "assign", reason
    if isinstance(node, UserFieldNode):
        value = facts.get(node.user_field)
        problem = None if value else f"{node.user_field} is empty"
        action, reason = _resolved_owner(value, node.user_field, node.fallback, problem)
        return action, "assign", reason
    if isinstance(node, Hold | Stop):
        return node, node.kind, node.describe()
    raise ConfigError([(type(node).__name__, "not an action node")])


def _next_step(node: object, facts: Mapping[str, Any], now: datetime) -> tuple[str, str, str]:
    """(outcome, reason, next node name) for a branching node other than the trigger."""
    if isinstance(node, DecisionNode):
        holds = evaluate(node.condition, facts, now)
        target = node.then if holds else node.else_
        return str(holds).lower(), explain(node.condition, facts, now), target
    if isinstance(node, SwitchNode):
        for index, branch in enumerate(node.branches):
            if evaluate(branch.when, facts, now):
                outcome = branch.label or f"branch {index + 1}"
                return outcome, explain(branch.when, facts, now), branch.next
        return "default", f"none of {len(node.branches)} branches matched", str(node.default)
    if isinstance(node, MatchNode):
        matched, reason = _match_outcome(node, facts)
        if matched:
            return "matched", reason, node.matched
        return "unmatched", reason, node.unmatched
    raise ConfigError([(type(node).__name__, "not a branching node")])


def _delay_step(node: DelayNode, since: datetime | None, now: datetime) -> tuple[str, str, Wait | None]:
    """(outcome, reason, the wait if it is not over) for a delay node; without an event time nothing waits."""
    if since is None:
        return "passed", f"delay of {node.minutes} min not applied (no event time)", None
    until = since + timedelta(minutes=node.minutes)
    if now >= until:
        return "waited", f"waited {node.minutes} min after the event, until {until.isoformat()}", None
    reason = f"delayed: waiting {node.minutes} min after the event, until {until.isoformat()}"
    return "waiting", reason, Wait(until=until, reason=reason)


def _walk(
    graph: Graph, path: list[PathStep], facts: Mapping[str, Any], now: datetime, since: datetime | None = None
) -> tuple[Any, list[PathStep]]:
    """From the trigger's next node to an action: (action, path with a step per node); a delay node whose wait
    (from ``since``, the event's time) is not over ends the walk with a ``Wait``."""
    visited = {graph.trigger_name}
    name = graph.trigger.next
    while True:
        if name in visited or name not in graph.nodes:
            problem = "cycle" if name in visited else "unknown node"
            where = f"nodes.{path[-1].node}"
            raise ConfigError([(where, f"{problem} {name!r} reached while routing")])
        visited.add(name)
        node = graph.nodes[name]
        if isinstance(node, DelayNode):
            outcome, reason, wait = _delay_step(node, since, now)
            path.append(PathStep(node=name, outcome=outcome, reason=reason))
            if wait is not None:
                return wait, path
            name = node.next
            continue
        if isinstance(node, BRANCHING_NODES):
            outcome, reason, target = _next_step(node, facts, now)
            path.append(PathStep(node=name, outcome=outcome, reason=reason))
            name = target
            continue
        action, outcome, reason = _action_for(node, facts)
        path.append(PathStep(node=name, outcome=outcome, reason=reason))
        return action, path


def path_suggestion(graph: Graph, path: Iterable[PathStep]) -> GraphSuggestion | None:
    """What the nodes on a walked path suggest for bookings (the node nearest the action wins)."""
    return along_path((step.node, graph.nodes[step.node].suggest_booking) for step in path)


def route(
    graph: Graph, trigger_input: TriggerInput, facts: Mapping[str, Any], now: datetime
) -> RoutePlan:
    """Decide whether the event routes, then walk the graph from its trigger to an action."""
    decision = decide_trigger(graph.trigger, trigger_input)
    outcome = "routed" if decision.routes else "not routed"
    first = PathStep(node=graph.trigger_name, outcome=outcome, reason=decision.reason)
    if not decision.routes:
        return RoutePlan(triggered=False, reason=decision.reason, path=(first,))
    action, path = _walk(graph, [first], facts, now, trigger_input.at)
    return RoutePlan(triggered=True, reason=decision.reason, action=action, path=tuple(path),
                     booking=path_suggestion(graph, path))


def booking_walk(graph: Graph, facts: Mapping[str, Any], now: datetime) -> RoutePlan:
    """The walk for a booking on a record the graph never routed: no event, so the trigger is not
    asked; the path runs from it to an action over the record's facts, and ``booking`` is what it
    suggests. Nothing is assigned."""
    reason = "walked at booking time (no routing decision for the record)"
    first = PathStep(node=graph.trigger_name, outcome="booking", reason=reason)
    _, path = _walk(graph, [first], facts, now)
    return RoutePlan(triggered=False, reason=reason, path=tuple(path), booking=path_suggestion(graph, path))
