"""The one stage runner: what every actor of every chain does around its handler — parse the message, run the
handler, log, hand the result on to the chain's next stage, and undo a booking whose stage finally failed."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from dramatiq.middleware import CurrentMessage
from pydantic import BaseModel, ValidationError

from baton.chains import Chain, Stage
from baton.runtime import Runtime
from baton.stage_handlers import HANDLERS, Handler, Result, undo
from kernel.errors import InputError, PermanentError
from messages import AssignmentBatch, StageBatch
from messages.base import Contract
from messages.booking import BookingStep

log = structlog.get_logger("baton.stage")


def _retries() -> int:
    message = CurrentMessage.get_current_message()
    return message.options.get("retries", 0) if message is not None else 0


def _log_done(stage: str, result: Result, incoming: BaseModel, attempt: int, duration_ms: float) -> None:
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
    elif isinstance(incoming, BookingStep) or isinstance(result, BookingStep):
        step = incoming if isinstance(incoming, BookingStep) else result
        log.info("stage_done", booking_id=step.booking_id, **common)  # type: ignore[union-attr]


def _handed_on(result: Result) -> Sequence[Contract]:
    if result is None:
        return ()
    return result if isinstance(result, Sequence) else (result,)


def _parse(stage: Stage, payload: Any) -> Contract:
    try:
        return stage.takes.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"{stage.name}: malformed {stage.takes.__name__} message: {exc}") from None


@dataclass(frozen=True)
class BoundStage:
    """A stage with its handler and the stage its results go to, looked up once when its actor is declared."""

    stage: Stage
    handler: Handler
    receiver: Stage | None


def bind(chain: Chain, stage: Stage) -> BoundStage:
    return BoundStage(stage, HANDLERS[stage], stage if stage.splits_into_itself else chain.after(stage))


def run_stage(bound: BoundStage, payload: Any, app: Runtime) -> None:
    stage = bound.stage
    incoming = _parse(stage, payload)
    retries = _retries()
    started = time.perf_counter()
    try:
        result = bound.handler(incoming, app)
    except Exception as exc:
        if stage.undone_on_final_failure:
            _undo_when_final(stage, incoming, exc, retries, app)
        raise
    _log_done(stage.name, result, incoming, retries + 1, round((time.perf_counter() - started) * 1000, 3))
    if bound.receiver is None:
        return
    for message in _handed_on(result):
        app.broker.get_actor(bound.receiver.name).send(message.model_dump(mode="json"))


def _undo_when_final(stage: Stage, incoming: Contract, exc: Exception, retries: int, app: Runtime) -> None:
    final = isinstance(exc, PermanentError) or retries >= app.settings.max_retries
    log.warning("stage_failed", stage=stage.name, attempt=retries + 1, final=final,
                error=f"{type(exc).__name__}: {exc}", **_ids(incoming))
    if final:
        undo(incoming, f"{stage.name}: {type(exc).__name__}: {exc}", app.ports)


def _ids(incoming: Contract) -> dict[str, str]:
    booking_id = getattr(incoming, "booking_id", None)
    return {"booking_id": booking_id} if booking_id else {}
