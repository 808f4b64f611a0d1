"""Where a record goes before any owner is picked: the router graph, else its territory's or the default team."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from routing.booking.suggest import GraphSuggestion
from routing.changes import ChangeType
from routing.config import OrgConfig
from routing.graph import (
    AssignOwner,
    AssignTeam,
    FixedOwner,
    Hold,
    RoutePlan,
    Stop,
    TriggerInput,
    TriggerNode,
    Wait,
    decide_trigger,
    route,
    same_salesforce_id,
)
from routing.teams import Method

BATON_CLIENT = "baton"
DEFAULT_TRIGGER = TriggerNode(kind="trigger", next="assign")


class PlanKind(StrEnum):
    SELECT = "select"
    OWNER = "owner"
    NOT_ROUTED = "not_routed"
    HOLD = "hold"
    STOP = "stop"
    DELAY = "delay"  # a delay node's wait is not over: held until ``not_before``


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    team: str | None = None
    method: Method | None = None
    required_skills: frozenset[str] = frozenset()
    owner_id: str | None = None
    fallback: AssignTeam | FixedOwner | None = None
    reasons: list[str] = field(default_factory=list)
    path: list[dict[str, str]] = field(default_factory=list)
    booking: GraphSuggestion | None = None  # what the graph path suggests for bookings
    not_before: datetime | None = None  # a delayed record: when its wait ends

    @property
    def teams(self) -> set[str]:
        """Teams whose state this plan may change (their rows are locked before deciding)."""
        named = {self.team} if self.kind is PlanKind.SELECT and self.team else set()
        if self.kind is PlanKind.OWNER and isinstance(self.fallback, AssignTeam):
            named.add(self.fallback.team)
        return named


@dataclass(frozen=True)
class RecordChange:
    object_type: str
    change: ChangeType
    owner_id: str | None
    changed_fields: frozenset[str] | None
    change_origin: str | None
    at: datetime | None = None  # the event's time (delay nodes count from it)


def caused_by_baton(change_origin: str | None) -> bool:
    """Change events from Baton's own writes carry ``client=baton`` in their changeOrigin."""
    if not change_origin:
        return False
    return any(
        part.strip().lower() == f"client={BATON_CLIENT}"
        for part in change_origin.replace(";", ",").split(",")
    )


ROUTING_PLANS = frozenset({PlanKind.SELECT, PlanKind.OWNER, PlanKind.HOLD, PlanKind.DELAY})


def echoes_known_owner(change: RecordChange, plan: Plan, known_owner: str | None) -> bool:
    """The loop guard for outbound messages, which carry no ``changeOrigin`` and no change list: an update whose
    owner already is the one Baton last decided (or already saw) for the record brings no news and routes nothing,
    so Baton's own write-back, notified back by a workflow rule, never starts another round."""
    return (plan.kind in ROUTING_PLANS and change.change is ChangeType.UPDATE and change.changed_fields is None
            and same_salesforce_id(change.owner_id, known_owner))


def _trigger_input(change: RecordChange) -> TriggerInput:
    return TriggerInput(change.change, change.owner_id, change.changed_fields, caused_by_baton(change.change_origin),
                        change.at)


def _inactive_members(config: OrgConfig) -> set[str]:
    return {member.id for team in config.teams for member in team.members if not member.active}


def _team_plan(action: AssignTeam, reasons: list[str], path: list[dict[str, str]]) -> Plan:
    return Plan(PlanKind.SELECT, action.team, action.method, action.required_skills, reasons=reasons, path=path)


def _owner_plan(action: AssignOwner, config: OrgConfig, reasons: list[str], path: list[dict[str, str]]) -> Plan:
    if action.owner_id not in _inactive_members(config):
        return Plan(PlanKind.OWNER, owner_id=action.owner_id, fallback=action.fallback,
                    reasons=[*reasons, f"owner from {action.source}"], path=path)
    why = [*reasons, f"{action.source} owner {action.owner_id} is inactive"]
    if isinstance(action.fallback, AssignTeam):
        return _team_plan(action.fallback, [*why, f"fallback: team {action.fallback.team}"], path)
    if isinstance(action.fallback, FixedOwner):
        return Plan(PlanKind.OWNER, owner_id=action.fallback.owner_id, reasons=[*why, "fallback owner"], path=path)
    return Plan(PlanKind.HOLD, reasons=[*why, "no fallback"], path=path)


def _plan_from_graph(change: RecordChange, facts: Mapping[str, Any], config: OrgConfig, now: datetime) -> Plan:
    result = route(config.graphs[change.object_type], _trigger_input(change), facts, now)
    plan = _graph_action_plan(result, config)
    return replace(plan, booking=result.booking) if result.booking is not None else plan


def _graph_action_plan(result: RoutePlan, config: OrgConfig) -> Plan:
    path = [{"node": step.node, "outcome": step.outcome, "reason": step.reason} for step in result.path]
    reasons = [result.reason] if result.reason else []
    action = result.action
    if not result.triggered or action is None:
        return Plan(PlanKind.NOT_ROUTED, reasons=reasons, path=path)
    if isinstance(action, AssignTeam):
        return _team_plan(action, reasons, path)
    if isinstance(action, AssignOwner):
        return _owner_plan(action, config, reasons, path)
    if isinstance(action, Hold):
        return Plan(PlanKind.HOLD, reasons=[*reasons, action.reason], path=path)
    if isinstance(action, Stop):
        return Plan(PlanKind.STOP, reasons=[*reasons, action.reason], path=path)
    if isinstance(action, Wait):
        return Plan(PlanKind.DELAY, reasons=[*reasons, action.reason], path=path, not_before=action.until)
    raise AssertionError(f"unhandled graph action {action!r}")


def plan_record(change: RecordChange, facts: Mapping[str, Any], territory_team: str | None, config: OrgConfig,
                now: datetime) -> Plan:
    if change.object_type in config.graphs:
        return _plan_from_graph(change, facts, config, now)
    if caused_by_baton(change.change_origin):
        return Plan(PlanKind.NOT_ROUTED, reasons=["change made by Baton itself (changeOrigin client=baton)"])
    trigger = decide_trigger(DEFAULT_TRIGGER, _trigger_input(change))
    if not trigger.routes:
        return Plan(PlanKind.NOT_ROUTED, reasons=[trigger.reason])
    if territory_team:
        return Plan(PlanKind.SELECT, territory_team, reasons=[f"territory team {territory_team!r}"])
    if config.default_team:
        return Plan(PlanKind.SELECT, config.default_team, reasons=[f"default team {config.default_team!r}"])
    return Plan(PlanKind.HOLD, reasons=[f"no router graph, territory or default team for {change.object_type}"])
