"""What every stage actor does around its handler: parse, time, log, hand on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from dramatiq.middleware import CurrentMessage
from pydantic import BaseModel, ValidationError

from baton import runtime
from baton.errors import InputError
from baton.ports import Ports
from messages import AssignmentBatch, StageBatch

log = structlog.get_logger("baton.stage")
Incoming = TypeVar("Incoming", bound=BaseModel)


def _attempt() -> int:
    message = CurrentMessage.get_current_message()
    return (message.options.get("retries", 0) + 1) if message is not None else 1


def _log_decisions(stage: str, result: BaseModel | None, incoming: BaseModel, attempt: int, duration_ms: float) -> None:
    if not log.is_enabled_for(logging.INFO):
        return
    common = {"stage": stage, "attempt": attempt, "duration_ms": duration_ms}
    if isinstance(result, AssignmentBatch):
        for entry in result.logs:
            log.info("stage_done", routing_id=entry.routing_id, record_id=entry.record_id,
                     decision={"outcome": entry.outcome.value, "owner_id": entry.owner_id, "team": entry.team,
                               "method": entry.method}, **common)
    elif isinstance(result, StageBatch):
        for context in result.contexts:
            reasons = context.trace[-1].reasons if context.trace else []
            log.info("stage_done", routing_id=context.routing_id, record_id=context.event.record_id,
                     decision=reasons, **common)
    elif isinstance(incoming, AssignmentBatch):
        for entry in incoming.logs:
            log.info("stage_done", routing_id=entry.routing_id, record_id=entry.record_id,
                     decision={"written": entry.outcome.value == "assigned"}, **common)


def run_stage(
    stage: str,
    payload: Any,
    model: type[Incoming],
    handler: Callable[[Incoming, Ports], BaseModel | None],
    next_stage: str | None,
) -> None:
    try:
        incoming = model.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"{stage}: malformed {model.__name__} message: {exc}") from None
    current = runtime.current()
    attempt = _attempt()
    started = time.perf_counter()
    result = handler(incoming, current.ports)
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    _log_decisions(stage, result, incoming, attempt, duration_ms)
    if next_stage is not None and result is not None:
        current.broker.get_actor(next_stage).send(result.model_dump(mode="json"))
