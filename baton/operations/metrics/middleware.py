"""dramatiq middleware that feeds the metrics: Baton's per-stage figures, and dramatiq's own in workers."""

from __future__ import annotations

import threading
import time
from typing import Any

from dramatiq import Broker, Middleware
from dramatiq.broker import MessageProxy
from dramatiq.middleware.prometheus import Prometheus

from baton.acknowledgements import settlement_dropped
from baton.chains import WRITEBACK
from baton.operations.metrics.instruments import (
    record_assignments,
    record_dead_letter,
    record_stage,
)
from baton.operations.metrics.worker_server import serve_worker_metrics


def _records(message: MessageProxy) -> list[Any]:
    payload = message.args[0] if message.args and isinstance(message.args[0], dict) else {}
    return payload.get("contexts") or payload.get("logs") or []


class StageMetrics(Middleware):
    """Stage latency and records per stage; assignments counted once the write-back stage has them;
    dead letters per stage."""

    def __init__(self) -> None:
        self._local = threading.local()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._local.started = time.perf_counter()

    def after_process_message(self, broker: Broker, message: MessageProxy, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        started = getattr(self._local, "started", None)
        if started is None:
            return
        self._local.started = None
        records = _records(message)
        record_stage(message.actor_name, time.perf_counter() - started, len(records), exception is not None)
        if exception is None and message.actor_name == WRITEBACK.name:
            record_assignments(entry for entry in records if isinstance(entry, dict))

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        if not settlement_dropped(message):  # a dropped nack dead-letters nothing: RabbitMQ delivers it again
            record_dead_letter(message.actor_name)


class WorkerPrometheus(Prometheus):
    """dramatiq's Prometheus middleware (``dramatiq_messages_total`` and friends, multiprocess mode), serving
    on ``BATON_METRICS_PORT`` together with Baton's own metrics. Inert in processes that are not
    ``dramatiq workers`` (no ``process_boot``), where dramatiq's hooks would find no metrics."""

    booted = False

    @property
    def forks(self) -> list[Any]:
        return [serve_worker_metrics]

    def after_process_boot(self, broker: Broker) -> None:
        super().after_process_boot(broker)
        self.booted = True

    def after_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        if self.booted:
            super().after_worker_shutdown(broker, worker)

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        if self.booted:
            super().after_nack(broker, message)

    def after_enqueue(self, broker: Broker, message: Any, delay: Any) -> None:
        if self.booted:
            super().after_enqueue(broker, message, delay)

    def before_delay_message(self, broker: Broker, message: Any) -> None:
        if self.booted:
            super().before_delay_message(broker, message)

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        if self.booted:
            super().before_process_message(broker, message)

    def after_process_message(self, broker: Broker, message: MessageProxy, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if self.booted:
            super().after_process_message(broker, message, result=result, exception=exception)

    after_skip_message = after_process_message
