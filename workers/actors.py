"""How a stage becomes a dramatiq actor: its own queue, its own retry policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq

from baton import runtime
from baton.broker import queue_name
from baton.errors import PermanentError




def stage_actor(stage: str) -> Callable[[Callable[..., Any]], dramatiq.Actor]:  # type: ignore[type-arg]
    settings = runtime.current().settings
    return dramatiq.actor(
        actor_name=stage,
        queue_name=queue_name(settings, stage),
        throws=(PermanentError,),
        max_retries=settings.max_retries,
        min_backoff=settings.min_backoff_ms,
        max_backoff=settings.max_backoff_ms,
    )
