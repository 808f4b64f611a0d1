"""Pick each record's owner; the decision and team state commit together."""

from __future__ import annotations

from typing import Any

from baton.stages.assign import assign_batch
from messages import StageBatch
from workers.actors import stage_actor
from workers.runner import run_stage


@stage_actor("assign")
def assign(batch: dict[str, Any]) -> None:
    run_stage("assign", batch, StageBatch, assign_batch, next_stage='writeback')
