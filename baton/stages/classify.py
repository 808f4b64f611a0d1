"""Classify: pin the config version, derive fields, stamp and tag each record."""

from __future__ import annotations

from baton import runtime
from baton.booking.lifecycle import no_shows_from_events
from baton.ports import Ports
from baton.stages.common import traced
from messages import StageBatch
from routing.classify import classify


def classify_batch(batch: StageBatch, ports: Ports) -> StageBatch:
    current_version, _ = ports.configs.current()
    now = ports.clock()
    if any(context.event.object_type == "Event" for context in batch.contexts):
        current = runtime.current()
        no_shows_from_events([context.event for context in batch.contexts],
                             current.settings.salesforce_no_show_field, ports, current.broker)
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, "classify", reasons):
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
