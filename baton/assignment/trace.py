"""The trace each routing stage appends to a record in flight."""

from __future__ import annotations

import time

from messages import RoutingContext, StageTrace


class traced:  # noqa: N801 - used as ``with traced(...)``, like the generator-based manager it replaced
    """Appends the stage's trace (its reasons and how long it took) to the record's context.

    A plain class rather than ``@contextmanager``: it runs three times per record, and a generator-based
    manager costs several times more to enter and leave."""

    __slots__ = ("context", "stage", "reasons", "started")

    def __init__(self, context: RoutingContext, stage: str, reasons: list[str]) -> None:
        self.context, self.stage, self.reasons = context, stage, reasons
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is not None:  # the stage failed: no trace, the error goes on
            return
        self.context.trace.append(StageTrace(stage=self.stage, reasons=self.reasons,
                                             duration_ms=round((time.perf_counter() - self.started) * 1000, 3)))
