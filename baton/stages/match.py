"""Match: lead-to-account and duplicate matching against Baton's synced reference data."""

from __future__ import annotations

from baton.ports import Ports
from baton.stages.common import traced
from messages import MatchInfo, StageBatch


def match_batch(batch: StageBatch, ports: Ports) -> StageBatch:
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, "match", reasons):
            context.match = MatchInfo(reason="no reference data to match against")
            reasons.append(context.match.reason)
    return batch
