"""Assign: decide each record's owner and store the decision, team state and outbox row together.

Concurrent assign messages in one process share a transaction (group commit), so the team's row lock
is taken once per round rather than once per message; reads happen before the lock is taken, among them
the meetings each member of a team counting meetings hosted this period (one query per round).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.store.meeting_counts import COUNTED_STATUSES
from baton.assignment.ports import AssignmentPorts
from baton.assignment.writeback_facts import owner_fields
from baton.coalesce import Coalescer
from baton.record_facts import record_facts
from kernel.ports.decisions import (
    Assignment,
    DecisionReader,
    DecisionRows,
    DecisionUnit,
    OwnerWrite,
    RecordKey,
    RecordState,
    RecordStateUpdate,
    Rejection,
    StickyKey,
    StickyOwner,
    TeamStateUpdate,
)
from kernel.ports.holds import HeldRecord
from messages import (
    AssignmentBatch,
    AssignmentLog,
    Outcome,
    PathStep,
    RecordEvent,
    RoutingContext,
    Skipped,
    Source,
    StageBatch,
)
from messages.records import ChangeType
from routing.availability import availability
from routing.booking.fairness import counted_statuses
from routing.config import OrgConfig
from routing.dispatch import Plan, PlanKind, RecordChange, echoes_known_owner, plan_record
from routing.graph import AssignTeam, FixedOwner
from routing.lifecycles.hold import HoldStatus
from routing.methods import Method
from routing.queue_order import ordered_ids
from routing.selection import (
    PreviousOwner,
    TeamState,
    owner_changed,
    received_manually,
    select_owner,
    taken_back,
)
from routing.selection.meetings import MeetingWindow, meeting_window
from routing.selection.period import period_key
from routing.teams import Team

HOLD_RECHECK = timedelta(minutes=5)
REJECTION_PREFIX = "reject-"  # the source event id of a rejection's REASSIGN event (baton.assignment.reject)
DELAYED = "(delayed)"  # the team of a delayed record's hold: the graph names its team once the wait is over
CLOSED_FLAGS = ("IsClosed", "IsConverted")


def workload_change(context: RoutingContext, latest: RecordState | None) -> tuple[str | None, str | None] | None:
    """(previous owner, new owner) of an open record that an event closed or moved; None if neither."""
    fields = context.event.fields
    known_owner = latest.owner_id if latest else None
    if any(fields.get(flag) in (True, "true", "True") for flag in CLOSED_FLAGS):
        return (known_owner, None) if known_owner else None
    new_owner = fields.get("OwnerId")
    if new_owner and known_owner and new_owner != known_owner:
        return known_owner, new_owner
    return None


def _describe_workload(change: tuple[str | None, str | None]) -> str:
    previous, new = change
    if new is None:
        return f"workload: record closed, one open record less for {previous}"
    return f"workload: owner changed outside Baton from {previous} to {new}"


def _teams_of(config: OrgConfig, *user_ids: str | None) -> set[str]:
    wanted = {user for user in user_ids if user}
    return {team.name for team in config.teams if any(member.id in wanted for member in team.members)}


@dataclass(frozen=True)
class Prepared:
    """One message's records with their configs, plans and facts, worked out before any lock is taken."""

    batch: StageBatch
    contexts: list[RoutingContext]
    configs: dict[str, OrgConfig]
    plans: dict[str, Plan]
    facts: dict[str, dict[str, Any]]


def record_change(event: RecordEvent) -> RecordChange:
    return RecordChange(
        event.object_type, event.change_type, event.fields.get("OwnerId"),
        frozenset(event.changed_fields) if event.changed_fields is not None else None, event.change_origin,
        event.event_time(),
    )


def prepare(batch: StageBatch, ports: AssignmentPorts) -> Prepared:
    unique: dict[str, RoutingContext] = {}
    for context in batch.contexts:
        unique.setdefault(context.routing_id, context)
    current_version, _ = ports.configs.current()
    now = ports.clock()
    configs: dict[str, OrgConfig] = {}
    plans: dict[str, Plan] = {}
    facts: dict[str, dict[str, Any]] = {}
    for routing_id, context in unique.items():
        if context.config_version is None:
            context.config_version = current_version
        config = ports.configs.version(context.config_version)
        configs[routing_id] = config
        territory_team = context.territory.team if context.territory else None
        facts[routing_id] = record_facts(context)
        plans[routing_id] = plan_record(record_change(context.event), facts[routing_id], territory_team, config, now)
    return Prepared(batch, list(unique.values()), configs, plans, facts)


def _log(context: RoutingContext, outcome: Outcome, now: datetime, enqueued_at: datetime, **fields: Any) -> AssignmentLog:
    event = context.event
    if event.reason:
        said = "rejected by the owner" if is_rejection(event) else "reassign requested"
        fields["reasons"] = [f"{said}: {event.reason}", *fields.get("reasons", [])]
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
        stamps=context.stamps,
        trace=context.trace,
        **fields,
    )


def sticky_key(team: Team, facts: dict[str, Any]) -> str | None:
    """The account or email domain a team's sticky rule keys on, if the record has one."""
    if team.sticky is None:
        return None
    if team.sticky.key == "account":
        value = facts.get("match.account_id") or facts.get("AccountId")
    else:
        value = None if facts.get("derived.is_free_mail") else facts.get("derived.email_domain")
    return f"{team.sticky.key}:{str(value).lower()}" if value else None


def rejected_this_period(team: Team, rejections: Sequence[Rejection], now: datetime) -> dict[str, str]:
    """The members who rejected the record in the team's current fairness period (all time when it never resets),
    each with the reason ``baton why`` shows for skipping them."""
    current = period_key(team.fairness, team.timezone, now)
    return {
        rejection.member_id: f"rejected this record on {rejection.rejected_at.date().isoformat()}: {rejection.reason}"
        for rejection in rejections if period_key(team.fairness, team.timezone, rejection.rejected_at) == current
    }


def is_rejection(event: RecordEvent) -> bool:
    return event.change_type is ChangeType.REASSIGN and event.source_event_id.startswith(REJECTION_PREFIX)


def _unavailable_owner_fallback(plan: Plan, config: OrgConfig, unavailable: frozenset[str], now: datetime) -> Plan:
    """A named owner (related or looked up) who is a member but cannot take records now gives way to the fallback."""
    for team in config.teams:
        member = next((m for m in team.members if m.id == plan.owner_id), None)
        if member is None:
            continue
        answer = availability(member, now, team=team, toggled_off=member.id in unavailable)
        if answer.available:
            return plan
        why = [*plan.reasons, f"{plan.owner_id} is unavailable: {answer.detail}"]
        if isinstance(plan.fallback, AssignTeam):
            return Plan(PlanKind.SELECT, plan.fallback.team, plan.fallback.method, plan.fallback.required_skills,
                        reasons=[*why, f"fallback: team {plan.fallback.team}"], path=plan.path)
        if isinstance(plan.fallback, FixedOwner):
            return Plan(PlanKind.OWNER, owner_id=plan.fallback.owner_id, reasons=[*why, "fallback owner"],
                        path=plan.path)
        return Plan(PlanKind.HOLD, reasons=[*why, "no fallback"], path=plan.path)
    return plan


def _decide(
    context: RoutingContext,
    plan: Plan,
    config: OrgConfig,
    team_states: dict[str, TeamState],
    latest: RecordState | None,
    unavailable: frozenset[str],
    now: datetime,
    enqueued_at: datetime,
    sticky: dict[StickyKey, StickyOwner] | None = None,
    meetings: Mapping[str, Mapping[str, int]] | None = None,
    puller: str | None = None,
    rejections: Sequence[Rejection] = (),
) -> tuple[AssignmentLog, datetime | None]:
    """The decision, and for a held record when someone may next be free to take it; ``puller``: the member
    pulling the record from a pull queue."""
    event_at = context.event.event_time()
    path = [PathStep(**step) for step in plan.path]
    walked = {"path": path, "booking_suggestion": plan.booking}  # a fallback plan below keeps the path's suggestion
    if latest is not None and latest.last_event_at > event_at:
        return _log(
            context, Outcome.STALE, now, enqueued_at, owner_id=latest.owner_id, path=path,
            reasons=[f"a newer event ({latest.last_event_at.isoformat()}) was already routed"],
        ), None
    if context.event.source is Source.OUTBOUND_MESSAGE and latest is not None \
            and echoes_known_owner(record_change(context.event), plan, latest.owner_id):
        return _log(context, Outcome.NOT_ROUTED, now, enqueued_at, owner_id=latest.owner_id, path=path, reasons=[
            *plan.reasons, f"not routed: the owner already is Baton's latest decision ({latest.owner_id}); "
            "an outbound message carries no change list, so this may be Baton's own write coming back"]), None
    if plan.kind is PlanKind.NOT_ROUTED:
        return _log(context, Outcome.NOT_ROUTED, now, enqueued_at, reasons=plan.reasons, **walked), None
    if plan.kind is PlanKind.STOP:
        return _log(context, Outcome.STOPPED, now, enqueued_at, reasons=plan.reasons, **walked), None
    if plan.kind is PlanKind.OWNER:
        plan = _unavailable_owner_fallback(plan, config, unavailable, now)
    if plan.kind is PlanKind.OWNER:
        return _log(context, Outcome.ASSIGNED, now, enqueued_at, owner_id=plan.owner_id, method="fixed_owner",
                    reasons=plan.reasons, **walked), None
    if plan.kind is PlanKind.HOLD or plan.team is None:
        return _log(context, Outcome.HELD, now, enqueued_at, reasons=plan.reasons, **walked), None
    team = config.team(plan.team)
    facts = record_facts(context)
    key = sticky_key(team, facts)
    previous = (sticky or {}).get((team.name, key)) if key else None
    selection, team_states[team.name] = select_owner(
        team, team_states[team.name], facts, now, method=plan.method,
        required_skills=plan.required_skills or None, unavailable=unavailable,
        sticky_owner=PreviousOwner(previous.owner_id, previous.assigned_at) if previous else None,
        meetings=meetings.get(team.name) if meetings else None, puller=puller,
        rejected=rejected_this_period(team, rejections, now) if rejections else None,
    )
    if key and sticky is not None and selection.owner_id:
        sticky[(team.name, key)] = StickyOwner(team.name, key, selection.owner_id, now)
    credit = _credit_back(context, team, team_states, selection.owner_id, latest, facts, now)
    log = _log(
        context,
        Outcome.HELD if selection.held else Outcome.ASSIGNED,
        now,
        enqueued_at,
        owner_id=selection.owner_id,
        team=team.name,
        method=selection.method,
        reasons=plan.reasons + list(selection.reasons) + credit,
        skipped=[Skipped(member_id=s.member_id, reason=s.reason) for s in selection.skipped],
        skip_summary=selection.skip_summary,
        **walked,
    )
    return log, selection.next_available_at


def _credit_back(context: RoutingContext, team: Team, team_states: dict[str, TeamState], owner_id: str | None,
                 latest: RecordState | None, facts: dict[str, Any], now: datetime) -> list[str]:
    """A record reassigned away from a member of the team: that member is credited back one record
    (caps and period counts); the reason says so."""
    previous = (latest.owner_id if latest else None) or context.event.fields.get("OwnerId")
    if context.event.change_type is not ChangeType.REASSIGN or not owner_id or not previous or previous == owner_id:
        return []
    if team.member(str(previous)) is None:
        return []
    if is_rejection(context.event) and team.rejection.counts_toward_fairness:
        return [f"fairness: {previous} rejected the record; it still counts for them (team rejection setting)"]
    team_states[team.name] = taken_back(team, team_states[team.name], str(previous), facts, now)
    return [f"fairness: previous owner {previous} credited back (record reassigned)"]


def outbox_channel(source: str) -> str:
    """Batch jobs write their owners through Bulk API 2.0; everything else in real-time collections."""
    return "bulk" if source == Source.BATCH.value else "realtime"


def assignment(log: AssignmentLog) -> Assignment:
    """The decision as stored; its whole log goes in the row (the store has pydantic encode it)."""
    return Assignment(log.routing_id, log.record_id, log.object_type, log.outcome.value, log.owner_id, log.team,
                      log.method, log.config_version, log, log.event_at, log.decided_at)


def _record_states(logs: Sequence[AssignmentLog], owners: Mapping[str, str | None],
                   now: datetime) -> list[RecordStateUpdate]:
    """Each routed record's new state, with the owner the decisions left it with (``owners``)."""
    return [
        RecordStateUpdate(log.object_type, log.record_id, log.event_at, log.routing_id,
                          owners.get(log.routing_id, log.owner_id), now)
        for log in logs if log.outcome is not Outcome.STALE
    ]


def _owner_writes(logs: Sequence[AssignmentLog], configs: Mapping[str, OrgConfig],
                  now: datetime) -> list[OwnerWrite]:
    """Each assigned record's outbox row: the owner, and the decision's facts when its config maps the object."""
    return [
        OwnerWrite(log.routing_id, log.object_type, log.record_id, log.owner_id, outbox_channel(log.source), now,
                   owner_fields(log, configs[log.routing_id]))
        for log in logs if log.outcome is Outcome.ASSIGNED and log.owner_id
    ]


def _after_hold_deadline(log: AssignmentLog, team: Team, held_at: datetime | None, now: datetime) -> AssignmentLog:
    """A record held past the team's ``hold_max_minutes`` goes to the team's fallback owner."""
    if held_at is None or team.hold_max_minutes is None or not team.fallback_owner:
        return log
    if now < held_at + timedelta(minutes=team.hold_max_minutes):
        return log
    return log.model_copy(update={
        "outcome": Outcome.ASSIGNED, "owner_id": team.fallback_owner, "method": "fallback_owner",
        "reasons": [*log.reasons, f"held since {held_at.isoformat()}, longer than {team.hold_max_minutes} min: "
                    f"team fallback owner"],
    })


def _hold(context: RoutingContext, log: AssignmentLog, team: Team, held_at: datetime,
          next_free: datetime | None, now: datetime) -> HeldRecord:
    recheck_at = max(now, min(next_free or now + HOLD_RECHECK, now + HOLD_RECHECK))
    if team.hold_max_minutes is not None:
        recheck_at = min(recheck_at, max(now, held_at + timedelta(minutes=team.hold_max_minutes)))
    return HeldRecord(log.routing_id, log.object_type, log.record_id, team.name,
                      "; ".join(log.reasons[-3:]) or "no member can take it now", context.model_dump(mode="json"),
                      held_at, recheck_at)


def _delayed(context: RoutingContext, log: AssignmentLog, held_at: datetime, not_before: datetime) -> HeldRecord:
    """A record a delay node holds: re-checked (routed again, past the node) once its wait ends."""
    return HeldRecord(log.routing_id, log.object_type, log.record_id, DELAYED, log.reasons[-1],
                      context.model_dump(mode="json"), held_at, not_before)


def _queue(context: RoutingContext, log: AssignmentLog, team: Team, now: datetime) -> HeldRecord:
    """A record of a pull team waits in the team's queue (never re-checked: a member's pull decides it)."""
    return HeldRecord(log.routing_id, log.object_type, log.record_id, team.name, log.reasons[-1],
                      context.model_dump(mode="json"), now, now, status=HoldStatus.QUEUED.value)


Item = tuple[RoutingContext, Prepared]
WorkloadChange = tuple[str | None, str | None]


@dataclass(frozen=True)
class MeetingCount:
    """A team counting meetings: whose meetings to count, and the booking statuses that count (its pool's
    rules for cancelled meetings and no-shows, or the pool defaults when it hosts no pool)."""

    team: Team
    statuses: tuple[str, ...]


def meeting_count(config: OrgConfig, team: Team) -> MeetingCount:
    pool = next((pool for pool in config.booking.pools if pool.team == team.name), None)
    return MeetingCount(team, counted_statuses(pool, COUNTED_STATUSES))


@dataclass(frozen=True)
class Needs:
    """What deciding some records reads: team states, member availability, workload changes, sticky owners,
    meetings hosted."""

    teams: set[str]
    named_owners: bool
    workload: dict[str, WorkloadChange]
    sticky_keys: set[StickyKey]
    meetings: dict[str, MeetingCount]


def needs(items: Sequence[Item], latest: dict[RecordKey, RecordState]) -> Needs:
    teams: set[str] = set().union(*(p.plans[c.routing_id].teams for c, p in items))
    workload: dict[str, WorkloadChange] = {}
    sticky_keys: set[StickyKey] = set()
    meetings: dict[str, MeetingCount] = {}
    for context, item in items:
        plan, config = item.plans[context.routing_id], item.configs[context.routing_id]
        counting = config.teams_counting_meetings
        if counting:
            for name in (plan.teams & counting.keys()) - meetings.keys():
                meetings[name] = meeting_count(config, counting[name])
        if plan.kind is PlanKind.NOT_ROUTED:
            change = workload_change(context, latest.get((context.event.object_type, context.event.record_id)))
            if change:
                workload[context.routing_id] = change
                teams |= _teams_of(config, *change)
        elif plan.kind is PlanKind.SELECT and plan.team:
            key = sticky_key(config.team(plan.team), item.facts[context.routing_id])
            if key:
                sticky_keys.add((plan.team, key))
    named_owners = any(p.plans[c.routing_id].kind is PlanKind.OWNER for c, p in items)
    return Needs(teams, named_owners, workload, sticky_keys, meetings)


def hosted_meetings(tx: DecisionReader, wanted: Mapping[str, MeetingCount], now: datetime) -> dict[str, dict[str, int]]:
    """Per team, the meetings each member hosted in the team's current period: one query per distinct
    window and statuses (one per round unless teams count differently)."""
    groups: dict[tuple[MeetingWindow, tuple[str, ...]], list[str]] = {}
    for name, count in wanted.items():
        window = meeting_window(count.team, now)
        if window is not None:
            groups.setdefault((window, count.statuses), []).append(name)
    hosted: dict[str, dict[str, int]] = {}
    for (window, statuses), names in groups.items():
        hosts = {member.id for name in names for member in wanted[name].team.members}
        found = tx.meeting_counts(hosts, window.since, window.until, by=window.by, statuses=statuses)
        hosted.update(dict.fromkeys(names, found))
    return hosted


@dataclass
class DecisionState:
    """What decisions read and advance, record after record: a real run's locked copy, or a dry run's own."""

    team_states: dict[str, TeamState]
    latest: dict[RecordKey, RecordState]
    unavailable: frozenset[str]
    sticky: dict[StickyKey, StickyOwner]
    meetings: dict[str, dict[str, int]] = field(default_factory=dict)
    rejections: dict[RecordKey, list[Rejection]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordDecision:
    log: AssignmentLog
    hold: HeldRecord | None
    workload_teams: frozenset[str]


def decide_record(context: RoutingContext, item: Prepared, state: DecisionState, now: datetime,
                  held_since: datetime | None = None, change: WorkloadChange | None = None,
                  puller: str | None = None) -> RecordDecision:
    """One record's decision, exactly as the assign stage makes it: selection, a hold past the team's
    deadline, workload changes of records Baton does not route; ``state`` advances as the real run's does.
    A pull team's record waits in its queue (a queued hold) unless ``puller`` is pulling it."""
    key: RecordKey = (context.event.object_type, context.event.record_id)
    plan, config = item.plans[context.routing_id], item.configs[context.routing_id]
    log, next_free = _decide(context, plan, config, state.team_states, state.latest.get(key), state.unavailable,
                             now, item.batch.enqueued_at, state.sticky, state.meetings, puller,
                             state.rejections.get(key, ()))
    hold = None
    if log.outcome is Outcome.HELD and plan.kind is PlanKind.DELAY and plan.not_before is not None:
        hold = _delayed(context, log, held_since or now, plan.not_before)
    elif log.outcome is Outcome.HELD and log.team and log.method == Method.PULL:
        if puller is None:
            hold = _queue(context, log, config.team(log.team), now)
    elif log.outcome is Outcome.HELD and log.team:
        team = config.team(log.team)
        log = _after_hold_deadline(log, team, held_since, now)
        if log.outcome is Outcome.HELD:
            hold = _hold(context, log, team, held_since or now, next_free, now)
    workload_teams: frozenset[str] = frozenset()
    if change:
        workload_teams = frozenset(_teams_of(config, *change))
        for team_name in workload_teams:
            state.team_states[team_name] = owner_changed(state.team_states[team_name], *change)
            team = config.team(team_name)
            if change[1] and team.fairness.count_manual_owner_changes and team.member(change[1]) is not None:
                state.team_states[team_name] = received_manually(
                    team, state.team_states[team_name], change[1], record_facts(context), now)
        log = log.model_copy(update={"reasons": [*log.reasons, _describe_workload(change)]})
    if log.outcome is not Outcome.STALE:
        known = state.latest.get(key)
        owner = log.owner_id if log.outcome is Outcome.ASSIGNED else (change[1] if change else
                                                                      (known.owner_id if known else None))
        state.latest[key] = RecordState(log.event_at, log.routing_id, owner)
    return RecordDecision(log, hold, workload_teams)


def in_team_order(items: list[Item], held_since: Mapping[str, datetime], now: datetime) -> list[Item]:
    """Held records re-checked together, in their team's ``order`` where the team sets one (each team's records
    take that team's places in the list, highest priority first, so the first member free gets the first);
    everything else keeps its place."""
    places: dict[str, tuple[Team, list[int]]] = {}
    for index, (context, item) in enumerate(items):
        plan = item.plans[context.routing_id]
        if context.routing_id in held_since and plan.kind is PlanKind.SELECT and plan.team:
            team = item.configs[context.routing_id].team(plan.team)
            if team.order.by != "oldest":
                places.setdefault(team.name, (team, []))[1].append(index)
    if not places:
        return items
    ordered = list(items)
    for team, indexes in places.values():
        by_id = {items[index][0].routing_id: items[index] for index in indexes}
        facts = {routing_id: item.facts[routing_id] for routing_id, (_, item) in by_id.items()}
        since = {routing_id: held_since[routing_id] for routing_id in by_id}
        for index, routing_id in zip(indexes, ordered_ids(team.order, since, facts, now), strict=True):
            ordered[index] = by_id[routing_id]
    return ordered


def _decide_all(tx: DecisionUnit, prepared: Sequence[Prepared], now: datetime) -> dict[str, AssignmentLog]:
    contexts: dict[str, Item] = {}
    for item in prepared:
        for context in item.contexts:
            contexts.setdefault(context.routing_id, (context, item))
    stored = tx.decided(contexts)
    rechecked = {rid for rid, log in stored.items() if log["outcome"] == Outcome.HELD and contexts[rid][1].batch.recheck}
    for routing_id in rechecked:
        del stored[routing_id]
    held_since = tx.hold_times(rechecked)
    fresh = in_team_order([(c, p) for rid, (c, p) in contexts.items() if rid not in stored], held_since, now)
    latest = tx.record_states((c.event.object_type, c.event.record_id) for c, _ in fresh)
    wanted = needs(fresh, latest)
    unavailable = frozenset(tx.unavailable_members()) if wanted.teams or wanted.named_owners else frozenset()
    sticky = tx.sticky_owners(wanted.sticky_keys)
    sticky_before = dict(sticky)
    meetings = hosted_meetings(tx, wanted.meetings, now) if wanted.meetings else {}
    raw_states = tx.lock_team_states(wanted.teams, now)  # type: ignore[arg-type]
    rejections = tx.rejections((c.event.object_type, c.event.record_id) for c, _ in fresh) if wanted.teams else {}
    state = DecisionState({team: TeamState.model_validate(raw) for team, raw in raw_states.items()}, latest,
                          unavailable, sticky, meetings, rejections)
    team_states = state.team_states
    decisions = dict.fromkeys(team_states, 0)
    new_logs: dict[str, AssignmentLog] = {}
    holds: list[HeldRecord] = []
    workload_teams: set[str] = set()
    record_owner: dict[str, str | None] = {}
    for context, item in fresh:
        decided = decide_record(context, item, state, now, held_since.get(context.routing_id),
                                wanted.workload.get(context.routing_id))
        log = decided.log
        if decided.hold is not None:
            holds.append(decided.hold)
        for team_name in decided.workload_teams:
            decisions.setdefault(team_name, 0)
            workload_teams.add(team_name)
        new_logs[context.routing_id] = log
        if log.outcome is not Outcome.STALE:
            record_owner[context.routing_id] = latest[(context.event.object_type, context.event.record_id)].owner_id
        if log.team and log.outcome is Outcome.ASSIGNED and log.team in decisions:
            decisions[log.team] += 1
    logs = list(new_logs.values())
    assignments = [assignment(log) for log in logs]
    tx.replace_held_assignments([row for row in assignments if row.routing_id in rechecked])
    tx.save_holds(holds)
    tx.save_sticky_owners([owner for key, owner in sticky.items() if sticky_before.get(key) != owner])
    tx.release_holds(rid for rid, log in new_logs.items() if log.outcome is not Outcome.HELD and rid in rechecked)
    tx.save_decisions(DecisionRows(
        team_states=[
            TeamStateUpdate(team, state.model_dump(mode="json", exclude_defaults=True), decisions[team], now)
            for team, state in team_states.items() if decisions[team] or team in workload_teams
        ],
        assignments=[row for row in assignments if row.routing_id not in rechecked],
        record_states=_record_states(logs, record_owner, now),
        owner_writes=_owner_writes(logs, {rid: item.configs[rid] for rid, (_, item) in contexts.items()}, now),
    ))
    return {**{rid: AssignmentLog.model_validate(log) for rid, log in stored.items()}, **new_logs}


def assign_prepared(prepared: Sequence[Prepared], ports: AssignmentPorts) -> list[AssignmentBatch]:
    """One transaction for every prepared message; each gets back the decisions for its own records."""
    now = ports.clock()
    with ports.decisions.transaction() as tx:
        logs = _decide_all(tx, prepared, now)
    return [
        AssignmentBatch(batch_id=item.batch.batch_id, logs=[logs[c.routing_id] for c in item.contexts],
                        enqueued_at=item.batch.enqueued_at)
        for item in prepared
    ]


def _round(items: Sequence[tuple[Prepared, AssignmentPorts]]) -> list[AssignmentBatch]:
    return assign_prepared([prepared for prepared, _ in items], items[0][1])


_group_commit: Coalescer[tuple[Prepared, AssignmentPorts], AssignmentBatch] = Coalescer(run=_round)


def assign_batch(batch: StageBatch, ports: AssignmentPorts) -> AssignmentBatch:
    return _group_commit.submit((prepare(batch, ports), ports))
