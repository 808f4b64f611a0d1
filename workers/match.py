"""Match leads to accounts, leads and contacts."""

from __future__ import annotations

from typing import Any

from baton.stages.match import match_batch
from messages import StageBatch
from workers.actors import stage_actor
from workers.runner import run_stage


@stage_actor("match")
def match(batch: dict[str, Any]) -> None:
    run_stage("match", batch, StageBatch, match_batch, next_stage='assign')
