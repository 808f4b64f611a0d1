"""Classify: pin the config version, derive fields, stamp and tag each record."""

from __future__ import annotations

from baton.assignment.ports import AssignmentPorts
from baton.assignment.trace import traced
from baton.chains import CLASSIFY
from messages import StageBatch
from routing.classify import classify


def classify_batch(batch: StageBatch, ports: AssignmentPorts) -> StageBatch:
    current_version, _ = ports.configs.current()
    now = ports.clock()
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, CLASSIFY.name, reasons):
            if context.config_version is None:
                context.config_version = current_version
            config = ports.configs.version(context.config_version)
            result = classify(context.event.fields, config.classification, now)
            context.derived.update(result.derived)
            context.stamps.update(result.stamps)
            context.tags = sorted(set(context.tags) | result.tags)
            reasons.append(f"config v{context.config_version}")
            reasons.extend(result.reasons)
    return batch
