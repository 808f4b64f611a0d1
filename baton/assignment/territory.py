"""Territory: which territory (and so which team) a record falls in."""

from __future__ import annotations

from baton.assignment.ports import AssignmentPorts
from baton.assignment.trace import traced
from baton.chains import TERRITORY
from baton.record_facts import record_facts
from messages import StageBatch, TerritoryResult


def territory_batch(batch: StageBatch, ports: AssignmentPorts) -> StageBatch:
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, TERRITORY.name, reasons):
            config = ports.configs.version(context.config_version) if context.config_version else ports.configs.current()[1]
            if not config.territories:
                context.territory = TerritoryResult(reasons=["no territories configured"])
            else:
                found = config.territory_index.match(record_facts(context))
                context.territory = TerritoryResult(name=found.territory, team=found.team, reasons=list(found.reasons))
            reasons.extend(context.territory.reasons)
    return batch
