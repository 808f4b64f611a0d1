"""Write new owners out and publish the assignment logs."""

from __future__ import annotations

from typing import Any

from baton.stages.writeback import writeback_batch
from messages import AssignmentBatch
from workers.actors import stage_actor
from workers.runner import run_stage


@stage_actor("writeback")
def writeback(batch: dict[str, Any]) -> None:
    run_stage("writeback", batch, AssignmentBatch, writeback_batch, next_stage=None)
