"""dramatiq middleware: retries that never lose a message, and dead letters copied into the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from dramatiq import Broker, Middleware
from dramatiq.errors import BrokerConnectionError
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Retries

from adapters.store import Store
from messages import routing_id_for

log = structlog.get_logger(__name__)
RETRY_ENQUEUE_FAILED = "retry_enqueue_failed"
RETRY_ENQUEUE_WAIT_S = 60.0  # a RabbitMQ restart takes seconds; far below the 30-minute consumer timeout
FIRST_ENQUEUE_PAUSE_S = 0.25
MAX_ENQUEUE_PAUSE_S = 5.0


class GuardedRetries(Retries):
    """Retries whose failed re-enqueue rejects the original instead of acking it.

    dramatiq's Retries re-enqueues a failed message with a delay and lets the worker ack the
    original. When that enqueue raises (broker gone, unroutable), the error is only logged and
    the original is still acked: the message is lost. Here a broker that cannot be reached is
    tried again (with growing pauses, up to ``wait_s``: a RabbitMQ restart must not dead-letter
    every message in flight); when the retry still cannot be enqueued the original is failed, so
    it is nacked into the dead-letter queue (or, when the connection is gone, redelivered by
    RabbitMQ), and the dead-letter recorder copies it into the store for replay.
    """

    def __init__(self, *, wait_s: float = RETRY_ENQUEUE_WAIT_S, **options: Any):
        super().__init__(**options)
        self.wait_s = wait_s

    def after_process_message(self, broker: Broker, message: MessageProxy, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        try:
            self._retry_through_outages(broker, message, result, exception)
        except Exception as enqueue_error:
            message.options[RETRY_ENQUEUE_FAILED] = f"{type(enqueue_error).__name__}: {enqueue_error}"
            message.fail()
            log.error(
                "retry_enqueue_failed",
                message_id=message.message_id,
                actor=message.actor_name,
                error=message.options[RETRY_ENQUEUE_FAILED],
            )


    def _retry_through_outages(self, broker: Broker, message: MessageProxy, result: Any,
                               exception: BaseException | None) -> None:
        retries = message.options.get("retries")
        deadline = time.monotonic() + self.wait_s
        pause = FIRST_ENQUEUE_PAUSE_S
        while True:
            try:
                super().after_process_message(broker, message, result=result, exception=exception)
                return
            except BrokerConnectionError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("retry_enqueue_waiting", message_id=message.message_id, actor=message.actor_name,
                            pause_s=pause, error=f"{type(exc).__name__}: {exc}")
                time.sleep(pause)
                pause = min(pause * 2, MAX_ENQUEUE_PAUSE_S)
                if retries is None:  # each attempt counts the retry again: undo that
                    message.options.pop("retries", None)
                else:
                    message.options["retries"] = retries


def _routing_ids(message: MessageProxy) -> list[str]:
    ids: list[str] = []
    for argument in message.args:
        if isinstance(argument, dict):
            for context in argument.get("contexts") or []:
                event = context.get("event") if isinstance(context, dict) else None
                if isinstance(event, dict) and event.get("source") and event.get("source_event_id"):
                    ids.append(routing_id_for(str(event["source"]), str(event["source_event_id"])))
            for entry in argument.get("logs") or []:
                if isinstance(entry, dict) and entry.get("routing_id"):
                    ids.append(entry["routing_id"])
    return ids


def failure_reason(message: MessageProxy) -> str:
    if RETRY_ENQUEUE_FAILED in message.options:
        return f"retry could not be enqueued: {message.options[RETRY_ENQUEUE_FAILED]}"
    exception = getattr(message, "_exception", None)
    retries = message.options.get("retries", 0)
    if exception is not None:
        return f"{type(exception).__name__}: {exception} (after {retries} retr{'y' if retries == 1 else 'ies'})"
    return f"failed after {retries} retries"


class DeadLetterRecorder(Middleware):
    """Copies every dead-lettered message into the store, where it outlives RabbitMQ's 7-day TTL."""

    def __init__(self, store_factory: Callable[[], Store], clock: Callable[[], datetime]):
        self._store_factory = store_factory
        self._clock = clock

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        reason = failure_reason(message)
        try:
            letter_id = self._store_factory().add_dead_letter(
                {
                    "message_id": message.message_id,
                    "queue_name": message.queue_name,
                    "actor_name": message.actor_name,
                    "stage": message.actor_name,
                    "routing_ids": _routing_ids(message),
                    "message": message.asdict(),
                    "reason": reason[:4000],
                    "failed_at": self._clock(),
                }
            )
        except Exception as exc:  # the message itself still sits in the broker's dead-letter queue
            log.critical("dead_letter_not_stored", message_id=message.message_id, error=str(exc), reason=reason)
            return
        log.error("dead_lettered", message_id=message.message_id, stage=message.actor_name,
                  dead_letter_id=letter_id, reason=reason)


class WarmUp(Middleware):
    """Pays a worker's one-time costs at boot, not on the first records after a deploy.

    Once per process: ``warm_process`` (config, suffix list, match indexes). In every worker thread: its
    own RabbitMQ publishing connection (dramatiq opens one per thread, lazily, with a confirm-mode channel)
    and a database connection in the pool. Failures are logged; the lazy path still works.
    """

    def __init__(self, warm_process: Callable[[], None], warm_thread: Callable[[], None]):
        self._warm_process = warm_process
        self._warm_thread = warm_thread

    def after_worker_boot(self, broker: Broker, worker: Any) -> None:
        self._run(self._warm_process, "process")

    def after_worker_thread_boot(self, broker: Broker, thread: Any) -> None:
        if hasattr(broker, "channel"):  # RabbitmqBroker: the thread-local connection and channel
            self._run(lambda: broker.channel, "broker_channel")
        self._run(self._warm_thread, "thread")

    @staticmethod
    def _run(warm: Callable[[], Any], what: str) -> None:
        try:
            warm()
        except Exception as exc:  # warming is an optimisation: the first message will simply pay for it
            log.warning("warm_up_failed", what=what, error=str(exc))
