"""The routing facts of a decision written back to Salesforce beside its owner (the org config's ``writeback``):
what the assignment log says, as ``routing.writeback`` reads it, and the field values of the outbox row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kernel.ports.describes import ObjectDescribe
from messages import AssignmentLog, Source
from routing.config import OrgConfig
from routing.sla import sla_due
from routing.writeback import DecisionFacts, field_values

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
