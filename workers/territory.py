"""Match each record to its territory and team."""

from __future__ import annotations

from typing import Any

from baton.stages.territory import territory_batch
from messages import StageBatch
from workers.actors import stage_actor
from workers.runner import run_stage


@stage_actor("territory")
def territory(batch: dict[str, Any]) -> None:
    run_stage("territory", batch, StageBatch, territory_batch, next_stage='match')
