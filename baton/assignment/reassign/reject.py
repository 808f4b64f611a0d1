"""A member rejects a record Baton assigned them (``baton reject``, ``POST /v1/records/{object}/{id}/reject``).

Only the record's current owner as Baton decided it (its record state) may reject it. The rejection is stored
(member, team, reason, time) unless the member is over the team's ``rejection.daily_limit``, then the record,
read from Salesforce, is routed again as a REASSIGN whose source event id starts ``reject-``: the assign stage
never offers it to anyone who rejected it in the team's current period (``baton why`` shows them skipped with
their reason) and credits the rejecter back unless the team's ``rejection.counts_toward_fairness`` says not to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

import structlog
from dramatiq import Broker

from adapters.salesforce.rereads import RecordReader
from baton.assignment.reassign.single import RECORD_ID, ReassignRequest, RecordNotFound, new_request, reassign_event
from baton.configs import ConfigProvider
from baton.salesforce.ingest import enqueue
from kernel.errors import InputError
from kernel.ports.decisions import DecisionRepository, Rejection
from messages import ChangeType, RecordEvent
from routing.config import OrgConfig
from routing.teams import Team

log = structlog.get_logger(__name__)
CHECKED = (True, "true", "True")


class NotRouted(RecordNotFound):
    """Baton never routed the record: nobody holds it as Baton's decision."""


class RejectRefused(InputError):
    """The member may not reject the record now (not its owner, over the daily limit): it stays with them."""


@dataclass(frozen=True)
class RejectRequest:
    reassign: ReassignRequest
    member_id: str


def new_rejection(object_type: str, record_id: str, member_id: str, reason: str,
                  request_id: str | None = None) -> RejectRequest:
    """A checked rejection; raises InputError naming the bad part."""
    if not RECORD_ID.match(member_id):
        raise InputError(f"member id: {member_id!r} is not a 15- or 18-character Salesforce user id")
    request = new_request(object_type, record_id, reason, request_id)
    return RejectRequest(ReassignRequest(request.object_type, request.record_id, request.reason, request.request_id,
                                         kind="reject"), member_id)


def _store(decisions: DecisionRepository, configs: ConfigProvider | OrgConfig, rejection: Rejection,
           now: datetime) -> tuple[Team | None, int, int | None]:
    """Stores the rejection within the team's daily limit: (team, limit, rejections made when refused)."""
    logged = decisions.latest_routed_log(rejection.object_type, rejection.record_id) or {}
    config = configs if isinstance(configs, OrgConfig) else configs.current()[1]
    team = next((team for team in config.teams if team.name == logged.get("team")), None)
    limit = team.rejection.daily_limit if team else 0
    zone = ZoneInfo(team.timezone if team else "UTC")
    day_start = datetime.combine(now.astimezone(zone).date(), time(), zone)
    stored = Rejection(rejection.object_type, rejection.record_id, rejection.member_id, team.name if team else None,
                       rejection.reason, rejection.rejected_at, rejection.routing_id)
    return team, limit, decisions.add_rejection(stored, limit, day_start)


def field_rejections(events: list[RecordEvent], config: OrgConfig | None, decisions: DecisionRepository,
                     now: datetime) -> list[RecordEvent]:
    """Change events setting the config's ``rejection.field`` to true, made by the record's owner as Baton decided
    it, become rejections: stored (within the team's daily limit) and routed as a REASSIGN without the rejecter.
    Any other event, or one refused (not the owner, over the limit; logged), is left as it is."""
    if config is None or config.rejection is None:
        return events
    setting = config.rejection
    out = []
    for event in events:
        if (event.change_type is not ChangeType.UPDATE or not event.changed_by or event.changed_fields is None
                or setting.field not in event.changed_fields or event.fields.get(setting.field) not in CHECKED):
            out.append(event)
            continue
        key = (event.object_type, event.record_id)
        with decisions.reader() as tx:
            state = tx.record_states([key]).get(key)
        owner = state.owner_id if state else None
        if owner is None or owner[:15] != event.changed_by[:15]:
            log.warning("field_rejection_ignored", record_id=event.record_id, changed_by=event.changed_by,
                        owner_id=owner, reason="only the record's owner (as Baton decided it) may reject it")
            out.append(event)
            continue
        reason = str(event.fields.get(setting.reason_field) or "") if setting.reason_field else ""
        reason = (reason.strip() or f"{setting.field} set in Salesforce")[:1000]
        team, limit, made = _store(decisions, config, Rejection(event.object_type, event.record_id, owner, None,
                                                                reason, now), now)
        if made is not None:
            log.warning("field_rejection_refused", record_id=event.record_id, member_id=owner, daily_limit=limit,
                        team=team.name if team else None, rejections_today=made)
            out.append(event)
            continue
        out.append(event.model_copy(update={"change_type": ChangeType.REASSIGN, "reason": reason,
                                            "source_event_id": f"reject-{event.source_event_id}"[:255]}))
    return out


def reject_record(request: RejectRequest, reader: RecordReader, broker: Broker, decisions: DecisionRepository,
                  configs: ConfigProvider, now: datetime) -> str:
    """Stores the rejection and routes the record again without the rejecter; returns the routing id.
    Raises NotRouted / RecordNotFound (404), RejectRefused (409), InputError or TransientError."""
    reassign = request.reassign
    routing_id = reassign.routing_id()
    rejecter = decisions.rejecter_of(routing_id)  # the same request again: answered as the first, counted once
    if rejecter is not None and rejecter[:15] != request.member_id[:15]:
        raise RejectRefused(f"request_id {reassign.request_id!r} is another member's rejection; choose a new one")
    key = (reassign.object_type, reassign.record_id)
    with decisions.reader() as tx:
        state = tx.record_states([key]).get(key)
    if state is None:
        raise NotRouted(f"{reassign.object_type} {reassign.record_id}: Baton has not routed this record")
    owner = state.owner_id
    if rejecter is None and (owner is None or owner[:15] != request.member_id[:15]):
        raise RejectRefused(f"{request.member_id} does not own {reassign.object_type} {reassign.record_id} "
                            f"(Baton's owner: {owner or 'none'}): only its owner may reject it")
    records = reader.by_ids(reassign.object_type, [reassign.record_id])
    record = next((r for r in records if str(r.get("Id", ""))[:15] == reassign.record_id[:15]), None)
    if record is None:
        raise RecordNotFound(f"{reassign.object_type} {reassign.record_id}: not found in Salesforce")
    team, limit, made = _store(decisions, configs, Rejection(reassign.object_type, reassign.record_id,
                                                             rejecter or owner or request.member_id, None,
                                                             reassign.reason, now, routing_id), now)
    if made is not None:
        raise RejectRefused(f"{request.member_id} already rejected {made} records today: team "
                            f"{team.name if team else '?'} allows rejection.daily_limit {limit} a day; "
                            "the record stays with them")
    event = reassign_event(reassign, record, now)
    enqueue(broker, [event], 1, now)
    return reassign.routing_id()
