"""Every declared stage (``baton.chains``) becomes a dramatiq actor on its own queue with the retry policy from
settings; each runs ``baton.stage_runner.run_stage``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq

from baton.chains import Chain, Stage, all_stages
from baton.runtime import Runtime
from baton.stage_runner import bind, run_stage
from kernel.errors import PermanentError


def _perform(chain: Chain, stage: Stage, app: Runtime) -> Callable[[Any], None]:
    bound = bind(chain, stage)

    def perform(payload: Any) -> None:
        run_stage(bound, payload, app)

    perform.__name__ = perform.__qualname__ = stage.name
    return perform


def declare_actors(app: Runtime) -> None:
    """Declares one actor per stage on the application's broker, each running its stage for ``app``."""
    broker, settings = app.broker, app.settings
    for chain, stage in all_stages():
        dramatiq.actor(
            _perform(chain, stage, app),
            broker=broker,
            actor_name=stage.name,
            queue_name=stage.queue(settings.queue_prefix),
            throws=(PermanentError,),
            max_retries=settings.max_retries,
            min_backoff=settings.min_backoff_ms,
            max_backoff=settings.max_backoff_ms,
        )
