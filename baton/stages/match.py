"""Match: leads to accounts, against Baton's own copy of the accounts (no API call per record)."""

from __future__ import annotations

from baton.ports import Ports
from baton.stages.common import traced
from messages import MatchInfo, StageBatch
from routing.matching import match_lead_explained

MATCHED_OBJECTS = frozenset({"Lead"})


def match_batch(batch: StageBatch, ports: Ports) -> StageBatch:
    index = None
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, "match", reasons):
            if context.event.object_type not in MATCHED_OBJECTS:
                context.match = MatchInfo(reason=f"{context.event.object_type} records are not matched")
            else:
                index = index or ports.reference.account_index()
                if index is None:
                    context.match = MatchInfo(reason="no accounts to match against")
                else:
                    config = ports.configs.version(context.config_version) if context.config_version else ports.configs.current()[1]
                    result, why = match_lead_explained({**context.event.fields, **context.stamps}, index, config.matching)
                    if result is None:
                        context.match = MatchInfo(reason="; ".join(why) or "no match")
                    else:
                        context.match = MatchInfo(
                            object_type=result.object_type, record_id=result.record_id, owner_id=result.owner_id,
                            score=result.score, method=result.method, reason=result.reason,
                        )
            reasons.append(context.match.reason)
    return batch
