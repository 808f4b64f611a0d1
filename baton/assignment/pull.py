"""Pull: a member asks for the next record waiting in their team's queue (the pull method) and gets the
first one, in the team's queue order, that they may take; decided in the assign stage's transaction, so caps,
fairness counts, the record's state and the owner write (outbox) are kept exactly as for any decision.

Two pulls never get the same record: the team's state row is locked first (PostgreSQL; SQLite has one writer
at a time) and the queue's rows are read ``FOR UPDATE SKIP LOCKED``; a pulled record leaves the queue in the
same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog

from baton.assignment.assign import (
    DecisionState,
    assignment,
    decide_record,
    outbox_channel,
    prepare,
)
from baton.assignment.ports import AssignmentPorts
from kernel.ports.decisions import (
    DecisionRows,
    DecisionUnit,
    OwnerWrite,
    RecordStateUpdate,
    TeamStateUpdate,
)
from kernel.ports.holds import HeldRecord
from messages import AssignmentLog, Outcome, RoutingContext, StageBatch
from routing.config import OrgConfig
from routing.dispatch import Plan, PlanKind
from routing.methods import METHODS
from routing.queue_order import in_queue_order
from routing.selection import TeamState

logger = structlog.get_logger(__name__)

QUEUE_READ_LIMIT = 1000  # the oldest records of a queue read per pull, ordered by the team's order


class PullRefused(ValueError):
    """The pull cannot be made: the member is not on the team."""


class UnknownTeam(PullRefused):
    """No team of that name in the current config."""


@dataclass(frozen=True)
class Pulled:
    """What a pull got: the decision (None: nothing in the queue the member may take) and why not."""

    log: AssignmentLog | None
    reason: str


def pull_teams(config: OrgConfig, member_id: str) -> list[str]:
    """The teams using the pull method that ``member_id`` is a member of, in the config's order."""
    return [team.name for team in config.teams
            if METHODS[team.method].queued and team.member(member_id) is not None]


def pull(team_name: str, member_id: str, ports: AssignmentPorts, limit: int = QUEUE_READ_LIMIT) -> Pulled:
    """Assigns ``member_id`` the highest-priority record in ``team_name``'s queue they may take, if any; the
    decision goes on to the log stream (SLA timers, notifications) as the writeback stage's would."""
    pulled = _pull(team_name, member_id, ports, limit)
    if pulled.log is not None:
        try:
            ports.sink.publish([pulled.log])
        except Exception as exc:  # noqa: BLE001 (the decision is stored and its owner write queued)
            logger.warning("pulled_log_not_published", routing_id=pulled.log.routing_id, error=str(exc))
    return pulled


def _pull(team_name: str, member_id: str, ports: AssignmentPorts, limit: int) -> Pulled:
    now = ports.clock()
    _, config = ports.configs.current()
    if team_name not in config.team_names():
        raise UnknownTeam(f"no team named {team_name!r} in the current config")
    team = config.team(team_name)
    if team.member(member_id) is None:
        raise PullRefused(f"{member_id!r} is not a member of team {team_name!r}")
    with ports.decisions.reader() as reader:  # plans read configs from the store: not inside the writer's lock
        peeked = reader.queued(team_name, limit)
    if not peeked:
        return Pulled(None, f"none: team {team_name}'s queue is empty")
    contexts = {held.routing_id: RoutingContext.model_validate({**held.context, "config_version": None})
                for held in peeked}  # decided under the config in force now (its members, caps), as the pull is
    item = prepare(StageBatch(batch_id=uuid.uuid4().hex, contexts=list(contexts.values()), enqueued_at=now,
                              recheck=True), ports)
    with ports.decisions.transaction() as tx:
        raw = tx.lock_team_states([team_name], now)  # two pulls of one team take turns here
        queued = [held for held in tx.queued(team_name, limit, lock=True) if held.routing_id in contexts]
        ordered = in_queue_order(team.order, queued, item.facts, now)
        keys = [(held.object_type, held.record_id) for held in ordered]
        latest = tx.record_states(keys)
        state = DecisionState({team_name: TeamState.model_validate(raw[team_name])}, latest,
                              frozenset(tx.unavailable_members()), {}, rejections=tx.rejections(keys))
        stale: list[AssignmentLog] = []
        for held in ordered:
            context = contexts[held.routing_id]
            if not _pullable(item.plans[held.routing_id], item.configs[held.routing_id], team_name):
                continue  # the config in force no longer queues it here: it stays queued (see docs)
            log = decide_record(context, item, state, now, held.held_at, puller=member_id).log
            if log.outcome is Outcome.STALE:
                stale.append(log)  # a newer event of the record was routed since: it leaves the queue
            elif log.outcome is Outcome.ASSIGNED:
                log = _waited(log, held)
                _save(tx, [*stale, log], team_name, state.team_states[team_name], now)
                return Pulled(log, f"{member_id} pulled {log.record_id}")
        _save(tx, stale, None, None, now)
        why = "the queue is empty" if len(stale) == len(queued) else f"no record there that {member_id} may take"
        return Pulled(None, f"none: {why} (team {team_name})")


def _pullable(plan: Plan, config: OrgConfig, team_name: str) -> bool:
    """Whether the record's plan (under the current config) still waits in ``team_name``'s queue."""
    if plan.kind is not PlanKind.SELECT or plan.team != team_name:
        return False
    return METHODS[plan.method or config.team(team_name).method].queued


def _waited(log: AssignmentLog, held: HeldRecord) -> AssignmentLog:
    waited = f"waited in team {held.team}'s pull queue from {held.held_at.isoformat()} " \
             f"until pulled at {log.decided_at.isoformat()}"
    return log.model_copy(update={"reasons": [*log.reasons, waited]})


def _save(tx: DecisionUnit, logs: list[AssignmentLog], team: str | None, state: TeamState | None,
          now: datetime) -> None:
    """The queued records' new decisions (replacing their held ones), out of the queue; the pulled one's team
    state (one decision more), record state and owner write (the outbox)."""
    if not logs:
        return
    tx.replace_held_assignments([assignment(log) for log in logs])
    tx.release_holds(log.routing_id for log in logs)
    assigned = [log for log in logs if log.outcome is Outcome.ASSIGNED and log.owner_id]
    team_states = []
    if team is not None and state is not None:
        team_states = [TeamStateUpdate(team, state.model_dump(mode="json", exclude_defaults=True), len(assigned), now)]
    tx.save_decisions(DecisionRows(
        team_states=team_states,
        assignments=[],
        record_states=[RecordStateUpdate(log.object_type, log.record_id, log.event_at, log.routing_id, log.owner_id,
                                         now) for log in assigned],
        owner_writes=[OwnerWrite(log.routing_id, log.object_type, log.record_id, str(log.owner_id),
                                 outbox_channel(log.source), now) for log in assigned],
    ))
