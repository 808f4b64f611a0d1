"""Route a batch job's message through every stage in one call (see ``baton.stages.route``)."""

from __future__ import annotations

from typing import Any

from baton.stages.route import route_batch
from messages import StageBatch
from workers.actors import stage_actor
from workers.runner import run_stage


@stage_actor("route")
def route(batch: dict[str, Any]) -> None:
    run_stage("route", batch, StageBatch, route_batch, next_stage=None)
