"""dramatiq middleware: retries that never lose a message, and dead letters copied into the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.common import compute_backoff
from dramatiq.errors import BrokerConnectionError
from dramatiq.middleware import Retries
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF

from baton.acknowledgements import settlement_dropped
from baton.dead_letters import StoreCopyRetries, letter_of
from kernel.errors import DependencyUnavailable
from kernel.ports.operations import DeadLetterRepository

log = structlog.get_logger(__name__)
RETRY_ENQUEUE_FAILED = "retry_enqueue_failed"
RETRY_ENQUEUE_WAIT_S = 60.0  # a RabbitMQ restart takes seconds; far below the 30-minute consumer timeout
FIRST_ENQUEUE_PAUSE_S = 0.25
MAX_ENQUEUE_PAUSE_S = 5.0
OUTAGE_RETRY_MS = 15 * 60_000
OUTAGE_SINCE = "outage_since"
OUTAGE_RETRIES = "outage_retries"
COUNT_OPTIONS = ("retries", OUTAGE_SINCE, OUTAGE_RETRIES)
DEAD_LETTER_ID = "dead_letter_id"  # set on a nacked message once its dead letter is stored


class GuardedRetries(Retries):
    """Retries whose failed re-enqueue rejects the original instead of acking it.

    dramatiq's Retries re-enqueues a failed message with a delay and lets the worker ack the
    original. When that enqueue raises (broker gone, unroutable), the error is only logged and
    the original is still acked: the message is lost. Here a broker that cannot be reached is
    tried again (with growing pauses, up to ``wait_s``: a RabbitMQ restart must not dead-letter
    every message in flight); when the retry still cannot be enqueued the original is failed, so
    it is nacked into the dead-letter queue (or, when the connection is gone, redelivered by
    RabbitMQ), and the dead-letter recorder copies it into the store for replay.

    A message that failed because the database or the broker could not be reached (``is_outage``)
    is retried without using up its retries, for up to ``outage_ms`` from its first such failure.
    """

    def __init__(self, *, wait_s: float = RETRY_ENQUEUE_WAIT_S, outage_ms: int = OUTAGE_RETRY_MS, **options: Any):
        super().__init__(**options)
        self.wait_s = wait_s
        self.outage_ms = outage_ms

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
        counts = {key: message.options[key] for key in COUNT_OPTIONS if key in message.options}
        deadline = time.monotonic() + self.wait_s
        pause = FIRST_ENQUEUE_PAUSE_S
        while True:
            try:
                self._retry(broker, message, result, exception)
                return
            except BrokerConnectionError as exc:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("retry_enqueue_waiting", message_id=message.message_id, actor=message.actor_name,
                            pause_s=pause, error=f"{type(exc).__name__}: {exc}")
                time.sleep(pause)
                pause = min(pause * 2, MAX_ENQUEUE_PAUSE_S)
                for key in COUNT_OPTIONS:  # each attempt counts the retry again: undo that
                    message.options.pop(key, None)
                message.options.update(counts)

    def _retry(self, broker: Broker, message: MessageProxy, result: Any, exception: BaseException | None) -> None:
        if exception is not None and is_outage(exception) and self.outage_ms > 0:
            if self._retry_outage(broker, message, exception):
                return
        elif exception is not None:
            message.options.pop(OUTAGE_SINCE, None)
        super().after_process_message(broker, message, result=result, exception=exception)

    def _retry_outage(self, broker: Broker, message: MessageProxy, exception: BaseException) -> bool:
        """While the database or the broker cannot be reached, the message is retried (backoff up to the
        actor's max) without using up its retries, for up to ``outage_ms`` from the first such failure."""
        now_ms = int(time.time() * 1000)
        since = message.options.setdefault(OUTAGE_SINCE, now_ms)
        if now_ms - since > self.outage_ms:
            return False
        attempts = message.options.get(OUTAGE_RETRIES, 0)
        actor = broker.get_actor(message.actor_name)
        min_backoff = message.options.get("min_backoff", actor.options.get("min_backoff", self.min_backoff))
        max_backoff = message.options.get("max_backoff", actor.options.get("max_backoff", self.max_backoff))
        _, delay = compute_backoff(attempts, factor=min_backoff, max_backoff=min(max_backoff, DEFAULT_MAX_BACKOFF))
        message.options[OUTAGE_RETRIES] = attempts + 1
        log.warning("outage_retry", message_id=message.message_id, actor=message.actor_name, attempt=attempts + 1,
                    delay_ms=delay, outage_s=round((now_ms - since) / 1000, 1),
                    error=f"{type(exception).__name__}: {str(exception)[:200]}")
        broker.enqueue(message, delay=delay)
        return True


def is_outage(exception: BaseException) -> bool:
    """The database or the broker could not be reached (not the message's fault)."""
    if isinstance(exception, (DependencyUnavailable, BrokerConnectionError)):
        return True
    if isinstance(exception, sa.exc.DBAPIError):
        return bool(exception.connection_invalidated) or isinstance(
            exception, (sa.exc.OperationalError, sa.exc.InterfaceError))
    return False


def failure_reason(message: MessageProxy) -> str:
    if RETRY_ENQUEUE_FAILED in message.options:
        return f"retry could not be enqueued: {message.options[RETRY_ENQUEUE_FAILED]}"
    exception = getattr(message, "_exception", None)
    retries = message.options.get("retries", 0)
    if exception is not None:
        return f"{type(exception).__name__}: {exception} (after {retries} retr{'y' if retries == 1 else 'ies'})"
    return f"failed after {retries} retries"


class DeadLetterRecorder(Middleware):
    """Copies every dead-lettered message into the store, where it outlives RabbitMQ's 7-day TTL. A copy that
    cannot be written (the database is away) is written again in the background (``StoreCopyRetries``) while
    the worker lives; the message also sits in RabbitMQ's ``.XQ`` queue, which ``baton dlq list`` moves into the
    store. Both add the copy once per message id. The stored letter's id is noted on the
    message (the embedded default's inbox finishes the message only then)."""

    def __init__(self, dead_letters: Callable[[], DeadLetterRepository], clock: Callable[[], datetime],
                 retries: StoreCopyRetries | None = None):
        self._dead_letters = dead_letters
        self._clock = clock
        self.retries = retries or StoreCopyRetries(dead_letters)

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        if settlement_dropped(message):  # not dead-lettered: RabbitMQ delivers it again, to fail (and be kept) anew
            log.warning("dead_letter_not_recorded", message_id=message.message_id, stage=message.actor_name,
                        reason="its nack was dropped: the channel that delivered it is gone")
            return
        reason = failure_reason(message)
        letter = letter_of(message.asdict(), reason, self._clock())
        try:
            letter_id, _ = self._dead_letters().add_dead_letter_once(letter)
        except Exception as exc:  # the message itself still sits in the broker's dead-letter queue
            log.critical("dead_letter_not_stored", message_id=message.message_id, error=str(exc), reason=reason,
                         then="written again in the background while the worker runs; baton dlq list moves it "
                              "from RabbitMQ's dead-letter queue otherwise")
            self.retries.add(letter)
            return
        message.options[DEAD_LETTER_ID] = letter_id
        log.error("dead_lettered", message_id=message.message_id, stage=message.actor_name,
                  dead_letter_id=letter_id, reason=reason)

    def before_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        self.retries.last_try()


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
