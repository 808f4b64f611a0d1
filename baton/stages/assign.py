"""Assign: decide each record's owner and store the decision, team state and outbox row together."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from adapters.store import RecordState
from baton.ports import Ports
from messages import AssignmentBatch, AssignmentLog, Outcome, RoutingContext, Skipped, StageBatch
from routing.config import OrgConfig
from routing.dispatch import Plan, PlanKind, plan_record
from routing.selection import TeamState, select_owner

RecordKey = tuple[str, str]


def _unique(contexts: Iterable[RoutingContext]) -> list[RoutingContext]:
    seen: dict[str, RoutingContext] = {}
    for context in contexts:
        seen.setdefault(context.routing_id, context)
    return list(seen.values())


def _log(context: RoutingContext, outcome: Outcome, now: datetime, enqueued_at: datetime, **fields) -> AssignmentLog:  # type: ignore[no-untyped-def]
    event = context.event
    return AssignmentLog(
        routing_id=context.routing_id,
        record_id=event.record_id,
        object_type=event.object_type,
        outcome=outcome,
        previous_owner_id=event.fields.get("OwnerId"),
        territory=context.territory,
        match=context.match,
        tags=context.tags,
        config_version=context.config_version,
        source=event.source.value,
        source_event_id=event.source_event_id,
        event_at=event.event_time(),
        enqueued_at=enqueued_at,
        decided_at=now,
        **fields,
    )


def _decide(
    context: RoutingContext,
    plan: Plan,
    config: OrgConfig,
    team_states: dict[str, TeamState],
    latest: RecordState | None,
    now: datetime,
    enqueued_at: datetime,
) -> AssignmentLog:
    event_at = context.event.event_time()
    if latest is not None and latest.last_event_at > event_at:
        return _log(
            context, Outcome.STALE, now, enqueued_at, owner_id=latest.owner_id,
            reasons=[f"a newer event ({latest.last_event_at.isoformat()}) was already routed"],
        )
    if plan.kind is PlanKind.NOT_ROUTED:
        return _log(context, Outcome.NOT_ROUTED, now, enqueued_at, reasons=plan.reasons)
    if plan.kind is PlanKind.HOLD or plan.team is None:
        return _log(context, Outcome.HELD, now, enqueued_at, reasons=plan.reasons)
    team = config.team(plan.team)
    facts = {**context.event.fields, **{f"derived.{k}": v for k, v in context.derived.items()}, "tags": frozenset(context.tags)}
    selection, team_states[team.name] = select_owner(team, team_states[team.name], facts, now)
    return _log(
        context,
        Outcome.HELD if selection.held else Outcome.ASSIGNED,
        now,
        enqueued_at,
        owner_id=selection.owner_id,
        team=team.name,
        method=selection.method,
        reasons=plan.reasons + selection.reasons,
        skipped=[Skipped(member_id=s.member_id, reason=s.reason) for s in selection.skipped],
    )


def _assignment_row(log: AssignmentLog) -> dict:  # type: ignore[type-arg]
    return {
        "routing_id": log.routing_id,
        "record_id": log.record_id,
        "object_type": log.object_type,
        "outcome": log.outcome.value,
        "owner_id": log.owner_id,
        "team": log.team,
        "method": log.method,
        "config_version": log.config_version,
        "log": log.model_dump(mode="json"),
        "event_at": log.event_at,
        "decided_at": log.decided_at,
    }


def assign_batch(batch: StageBatch, ports: Ports) -> AssignmentBatch:
    now = ports.clock()
    contexts = _unique(batch.contexts)
    configs = {c.routing_id: ports.configs.version(c.config_version) for c in contexts if c.config_version}
    current_version, current = ports.configs.current()
    plans: dict[str, Plan] = {}
    for context in contexts:
        config = configs.get(context.routing_id, current)
        if context.config_version is None:
            context.config_version = current_version
        territory_team = context.territory.team if context.territory else None
        plans[context.routing_id] = plan_record(
            context.event.object_type, context.event.change_origin, territory_team, config
        )
    teams = {plan.team for plan in plans.values() if plan.team}
    with ports.store.transaction() as tx:
        raw_states = tx.lock_team_states(teams, now)
        stored = tx.decided(plans)
        fresh = [c for c in contexts if c.routing_id not in stored]
        latest = tx.record_states((c.event.object_type, c.event.record_id) for c in fresh)
        team_states = {team: TeamState.model_validate(state) for team, state in raw_states.items()}
        decisions = {team: 0 for team in teams}
        new_logs: dict[str, AssignmentLog] = {}
        for context in fresh:
            key: RecordKey = (context.event.object_type, context.event.record_id)
            config = configs.get(context.routing_id, current)
            log = _decide(context, plans[context.routing_id], config, team_states, latest.get(key), now, batch.enqueued_at)
            new_logs[context.routing_id] = log
            if log.outcome is not Outcome.STALE:
                latest[key] = RecordState(context.event.event_time(), log.routing_id, log.owner_id)
            if log.team and log.outcome is Outcome.ASSIGNED:
                decisions[log.team] += 1
        tx.save_team_states(
            {team: team_states[team].model_dump(mode="json") for team in teams if decisions[team]}, decisions, now
        )
        tx.save_assignments([_assignment_row(log) for log in new_logs.values()])
        tx.save_record_states(
            [
                {"object_type": log.object_type, "record_id": log.record_id, "last_event_at": log.event_at,
                 "routing_id": log.routing_id, "owner_id": log.owner_id, "updated_at": now}
                for log in new_logs.values() if log.outcome is not Outcome.STALE
            ]
        )
        tx.add_to_outbox(
            [
                {"routing_id": log.routing_id, "object_type": log.object_type, "record_id": log.record_id,
                 "owner_id": log.owner_id, "status": "pending", "attempts": 0, "created_at": now}
                for log in new_logs.values() if log.outcome is Outcome.ASSIGNED and log.owner_id
            ]
        )
    logs = [new_logs.get(c.routing_id) or AssignmentLog.model_validate(stored[c.routing_id]) for c in contexts]
    return AssignmentBatch(batch_id=batch.batch_id, logs=logs, enqueued_at=batch.enqueued_at)
