"""The routing facts of a decision written back to Salesforce beside its owner (the org config's ``writeback``):
what the assignment log says, as ``routing.writeback`` reads it, and the field values of the outbox row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kernel.ports.decisions import OwnerWrite
from kernel.ports.describes import ObjectDescribe
from kernel.ports.holds import SlaTimer
from kernel.ports.outbox import FactsWrite
from messages import AssignmentLog, Source, routing_id_for
from routing.config import OrgConfig
from routing.sla import sla_due
from routing.writeback import DecisionFacts, field_values, resolved

SLA_BREACHED_SOURCE = "sla_breached"

REASONS_JOINED = "; "


def decision_facts(log: AssignmentLog, config: OrgConfig) -> DecisionFacts:
    """A decision's facts: its team, territory, method, matched account, stamps, tags, reasons, when it was
    made, and when its SLA falls due (the team's SLA, as the SLA timer opened for it; none for batch jobs,
    which open no timer)."""
    team = next((team for team in config.teams if team.name == log.team), None) if log.team else None
    due = sla_due(team, log.decided_at) if team is not None and log.source != Source.BATCH.value else None
    match = log.match
    return DecisionFacts(
        routing_id=log.routing_id,
        assigned_at=log.decided_at,
        team=log.team,
        territory=log.territory.name if log.territory is not None else None,
        method=log.method,
        matched_account_id=match.record_id if match is not None and match.object_type == "Account" else None,
        stamps=log.stamps,
        tags=tuple(log.tags),
        reason=REASONS_JOINED.join(log.reasons) or None,
        sla_due=due,
    )


def owner_fields(log: AssignmentLog, config: OrgConfig,
                 describes: Mapping[str, ObjectDescribe] | None = None) -> dict[str, Any] | None:
    """The field values written with the decision's owner, or None when the config does not map its object."""
    mapping = config.writeback.get(log.object_type)
    if mapping is None:
        return None
    describe = describes.get(log.object_type) if describes is not None else None
    return field_values(decision_facts(log, config), mapping, describe)


def breach_writes(config: OrgConfig, breached: Sequence[SlaTimer], now: datetime) -> list[FactsWrite]:
    """For each breached SLA timer whose object maps ``sla_breached``: a facts-only write setting it true with the
    decision's owner, under a routing id of its own (the same for the same timer, so a repeated round queues it
    once). It is numbered after the record's last write, so a newer decision (the breach's reassignment among
    them) supersedes it."""
    writes = []
    for timer in breached:
        mapping = config.writeback.get(timer.object_type)
        name = resolved(mapping).get("sla_breached") if mapping is not None else None
        if name is None:
            continue
        write = OwnerWrite(routing_id_for(SLA_BREACHED_SOURCE, timer.routing_id), timer.object_type,
                           timer.record_id, timer.owner_id, "realtime", now, {name: True})
        writes.append(FactsWrite(timer.routing_id, write))
    return writes
