"""Classify each record: config version, derived fields, tags."""

from __future__ import annotations

from typing import Any

from baton.stages.classify import classify_batch
from messages import StageBatch
from workers.actors import stage_actor
from workers.runner import run_stage


@stage_actor("classify")
def classify(batch: dict[str, Any]) -> None:
    run_stage("classify", batch, StageBatch, classify_batch, next_stage='territory')
