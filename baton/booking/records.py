"""The record's owner and its account's owner, for the host options record_owner and account_owner, and the
booking suggestion: the router graph's (from the record's latest routing decision, else walked now), then the
suggestion rules over what the router found for the record (its latest routing decision)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from baton.record_facts import match_facts
from kernel.ports.decisions import DecisionRepository
from kernel.ports.reference_sync import SyncedAccount, SyncedContact, SyncedLead, SyncedReads
from messages import AssignmentLog, Outcome
from routing.booking.suggest import GraphSuggestion, Suggestion, still_valid, suggest
from routing.config import OrgConfig
from routing.facts import facts_for
from routing.unrouted_booking import unrouted_suggestion

ACCOUNT_LOOKUPS = ("AccountId", "ConvertedAccountId")
WALKED = frozenset({Outcome.ASSIGNED, Outcome.HELD, Outcome.STOPPED})  # the graph walk reached an action


def _synced(reference_sync: SyncedReads, object_type: str, record_id: str | None
            ) -> SyncedAccount | SyncedContact | SyncedLead | None:
    """The live synced account, contact or lead."""
    if not record_id or object_type not in ("Account", "Contact", "Lead"):
        return None
    row = reference_sync.row(object_type, record_id)
    return row if isinstance(row, (SyncedAccount, SyncedContact, SyncedLead)) and not row.removed_reason else None


def _synced_owner(reference_sync: SyncedReads, object_type: str, record_id: str | None) -> str | None:
    row = _synced(reference_sync, object_type, record_id)
    return row.owner_id if row else None


def record_owner(decisions: DecisionRepository, reference_sync: SyncedReads, object_type: str, record_id: str,
                 fields: Mapping[str, Any]) -> str | None:
    """The owner the scheduler's record names, else Baton's latest decision, else the synced copy."""
    if fields.get("OwnerId"):
        return str(fields["OwnerId"])
    with decisions.transaction() as transaction:
        state = transaction.record_states([(object_type, record_id)]).get((object_type, record_id))
    if state is not None and state.owner_id:
        return state.owner_id
    return _synced_owner(reference_sync, object_type, record_id)


def latest_routing(decisions: DecisionRepository, object_type: str, record_id: str) -> AssignmentLog | None:
    """The record's newest routing decision (a booking's own owner change is not one)."""
    entry = decisions.latest_routed_log(object_type, record_id)
    return AssignmentLog.model_validate(entry) if entry is not None else None


def suggestion_facts(routed: AssignmentLog | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The scheduler's record fields over what routing found for the record, as the router graph read it:
    classification stamps, ``tags``, ``territory`` and ``match.*``. Only the fields when it was never routed."""
    if routed is None:
        return dict(fields)
    return facts_for({**routed.stamps, **fields}, tags=routed.tags,
                     territory=routed.territory.name if routed.territory else None, match=match_facts(routed.match))


def graph_suggestion(config: OrgConfig, object_type: str, routed: AssignmentLog | None, fields: Mapping[str, Any],
                     now: datetime) -> GraphSuggestion | None:
    """The router graph's booking suggestion: the one the record's latest routing decision recorded when the graph
    walked to an action for it (possibly none; parts today's config no longer has are dropped), else the object's
    graph walked now over the record's fields."""
    if routed is not None and routed.outcome in WALKED and routed.path:
        return still_valid(routed.booking_suggestion, config.booking, object_type, config.team_names())
    return unrouted_suggestion(config, object_type, fields, now)


def booking_suggestion(config: OrgConfig, decisions: DecisionRepository, object_type: str, record_id: str,
                       fields: Mapping[str, Any], now: datetime) -> Suggestion:
    """The host option and meeting type a booking on the record starts with, each possibly locked: the router
    graph's first, then the object's suggestion rules, then its defaults. KeyError when the object has no
    booking settings."""
    settings = config.booking.for_object(object_type)
    routed = None
    if settings.suggestions or object_type in config.graphs:
        routed = latest_routing(decisions, object_type, record_id)
    graph = graph_suggestion(config, object_type, routed, fields, now)
    return suggest(config.booking, object_type, suggestion_facts(routed, fields), now, graph)


def account_owner(decisions: DecisionRepository, reference_sync: SyncedReads, object_type: str, record_id: str,
                  fields: Mapping[str, Any]) -> str | None:
    """The owner of the record's account (the record itself for an Account): the account the record names
    (``AccountId``, ``ConvertedAccountId``, a synced contact's account), else the account Baton's match stage
    matched it to; the owner from the synced copy, else as the match found it."""
    if object_type == "Account":
        return record_owner(decisions, reference_sync, object_type, record_id, fields)
    account_id = next((str(fields[name]) for name in ACCOUNT_LOOKUPS if fields.get(name)), None)
    if account_id is None and object_type == "Contact":
        contact = _synced(reference_sync, "Contact", record_id)
        account_id = contact.account_id if isinstance(contact, SyncedContact) else None
    matched_owner = None
    if account_id is None:
        routed = latest_routing(decisions, object_type, record_id)
        match = routed.match if routed is not None else None
        if match is not None and match.object_type == "Account" and match.record_id:
            account_id, matched_owner = match.record_id, match.owner_id
    return _synced_owner(reference_sync, "Account", account_id) or matched_owner
