"""Every declared stage (``baton.chains``) becomes a dramatiq actor on its own queue with the retry policy from
settings; each runs ``baton.stage_runner.run_stage``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq

from baton import runtime
from baton.chains import Chain, Stage, all_stages
from baton.errors import PermanentError
from baton.settings import Settings
from baton.stage_runner import run_stage


def _perform(chain: Chain, stage: Stage) -> Callable[[Any], None]:
    def perform(payload: Any) -> None:
        run_stage(chain, stage, payload, runtime.current())

    perform.__name__ = perform.__qualname__ = stage.name
    return perform


def declare_actors(broker: dramatiq.Broker, settings: Settings) -> None:
    """Declares one actor per stage on ``broker`` (once: a broker that has them keeps them)."""
    declared = set(broker.get_declared_actors())
    for chain, stage in all_stages():
        if stage.name in declared:
            continue
        dramatiq.actor(
            _perform(chain, stage),
            broker=broker,
            actor_name=stage.name,
            queue_name=stage.queue(settings.queue_prefix),
            throws=(PermanentError,),
            max_retries=settings.max_retries,
            min_backoff=settings.min_backoff_ms,
            max_backoff=settings.max_backoff_ms,
        )
