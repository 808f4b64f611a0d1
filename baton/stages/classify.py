"""Classify: pin the config version and stamp derived fields and tags onto each record."""

from __future__ import annotations

from baton.ports import Ports
from baton.stages.common import traced
from messages import StageBatch
from routing.normalize import country_code, email_domain, registered_domain


def classify_batch(batch: StageBatch, ports: Ports) -> StageBatch:
    version, _config = ports.configs.current()
    for context in batch.contexts:
        reasons: list[str] = []
        with traced(context, "classify", reasons):
            if context.config_version is None:
                context.config_version = version
            fields = context.event.fields
            context.derived.update(
                {
                    "email_domain": email_domain(fields.get("Email")),
                    "website_domain": registered_domain(fields.get("Website")),
                    "country": country_code(fields.get("Country")),
                }
            )
            reasons.append(f"config v{context.config_version}")
    return batch
