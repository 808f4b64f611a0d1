"""Helpers the stage handlers share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from messages import RoutingContext, StageTrace


@contextmanager
def traced(context: RoutingContext, stage: str, reasons: list[str]) -> Iterator[None]:
    """Appends the stage's trace (its reasons and how long it took) to the record's context."""
    started = time.perf_counter()
    yield
    context.trace.append(
        StageTrace(stage=stage, reasons=reasons, duration_ms=round((time.perf_counter() - started) * 1000, 3))
    )
