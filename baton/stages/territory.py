"""Territory: which territory (and so which team) a record falls in."""

from __future__ import annotations

from baton.ports import Ports
from baton.stages.common import traced
from messages import StageBatch, TerritoryResult


def territory_batch(batch: StageBatch, ports: Ports) -> StageBatch:
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, "territory", reasons):
            context.territory = TerritoryResult(reasons=["no territories configured"])
            reasons.extend(context.territory.reasons)
    return batch
