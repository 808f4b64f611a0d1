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

from dramatiq import Broker

from adapters.salesforce.rereads import RecordReader
from baton.assignment.reassign.single import RECORD_ID, ReassignRequest, RecordNotFound, new_request, reassign_event
from baton.configs import ConfigProvider
from baton.salesforce.ingest import enqueue
from kernel.errors import InputError
from kernel.ports.decisions import DecisionRepository, Rejection
from routing.teams import Team


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


def _team(configs: ConfigProvider, name: object) -> Team | None:
    _, config = configs.current()
    return next((team for team in config.teams if team.name == name), None)


def reject_record(request: RejectRequest, reader: RecordReader, broker: Broker, decisions: DecisionRepository,
                  configs: ConfigProvider, now: datetime) -> str:
    """Stores the rejection and routes the record again without the rejecter; returns the routing id.
    Raises NotRouted / RecordNotFound (404), RejectRefused (409), InputError or TransientError."""
    reassign = request.reassign
    key = (reassign.object_type, reassign.record_id)
    with decisions.reader() as tx:
        state = tx.record_states([key]).get(key)
    if state is None:
        raise NotRouted(f"{reassign.object_type} {reassign.record_id}: Baton has not routed this record")
    if state.owner_id is None or state.owner_id[:15] != request.member_id[:15]:
        raise RejectRefused(f"{request.member_id} does not own {reassign.object_type} {reassign.record_id} "
                            f"(Baton's owner: {state.owner_id or 'none'}): only its owner may reject it")
    records = reader.by_ids(reassign.object_type, [reassign.record_id])
    record = next((r for r in records if str(r.get("Id", ""))[:15] == reassign.record_id[:15]), None)
    if record is None:
        raise RecordNotFound(f"{reassign.object_type} {reassign.record_id}: not found in Salesforce")
    log = decisions.latest_routed_log(*key) or {}
    team = _team(configs, log.get("team"))
    limit = team.rejection.daily_limit if team else 0
    zone = ZoneInfo(team.timezone if team else "UTC")
    day_start = datetime.combine(now.astimezone(zone).date(), time(), zone)
    made = decisions.add_rejection(Rejection(reassign.object_type, reassign.record_id, state.owner_id,
                                             team.name if team else None, reassign.reason, now), limit, day_start)
    if made is not None:
        raise RejectRefused(f"{request.member_id} already rejected {made} records today: team "
                            f"{team.name if team else '?'} allows rejection.daily_limit {limit} a day; "
                            "the record stays with them")
    event = reassign_event(reassign, record, now)
    enqueue(broker, [event], 1, now)
    return reassign.routing_id()
