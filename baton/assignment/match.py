"""Match: leads to accounts, else to a duplicate lead or contact, against Baton's own reference data."""

from __future__ import annotations

from baton.assignment.ports import AssignmentPorts
from baton.assignment.trace import traced
from baton.chains import MATCH
from messages import MatchInfo, StageBatch
from routing.config import OrgConfig
from routing.matching import AccountIndex, MatchResult, PersonIndex, match_lead_explained

MATCHED_OBJECTS = frozenset({"Lead"})


def _info(result: MatchResult) -> MatchInfo:
    return MatchInfo(object_type=result.object_type, record_id=result.record_id, owner_id=result.owner_id,
                     score=result.score, method=result.method, reason=result.reason)


def _match_lead(fields: dict, config: OrgConfig, accounts: AccountIndex | None,  # type: ignore[type-arg]
                people: PersonIndex | None) -> MatchInfo:
    why: list[str] = []
    if accounts is not None:
        result, why = match_lead_explained(fields, accounts, config.matching)
        if result is not None:
            return _info(result)
    if people is not None:
        duplicate = people.find_duplicate(fields, config.matching)
        if duplicate is not None:
            return _info(duplicate)
        why.append("no duplicate lead or contact")
    if accounts is None and people is None:
        return MatchInfo(reason="no accounts, leads or contacts to match against")
    return MatchInfo(reason="; ".join(why) or "no match")


def match_batch(batch: StageBatch, ports: AssignmentPorts) -> StageBatch:
    ports.reference_updates.apply([context.event for context in batch.contexts])
    accounts = ports.reference.account_index()
    people = ports.reference.person_index()
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, MATCH.name, reasons):
            if context.event.object_type not in MATCHED_OBJECTS:
                context.match = MatchInfo(reason=f"{context.event.object_type} records are not matched")
            else:
                config = ports.configs.version(context.config_version) if context.config_version else ports.configs.current()[1]
                fields = {"Id": context.event.record_id, **context.event.fields, **context.stamps}
                context.match = _match_lead(fields, config, accounts, people)
            reasons.append(context.match.reason)
    return batch
