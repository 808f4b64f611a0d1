"""Where metrics are served: ``/metrics`` on the web process, ``BATON_METRICS_PORT`` elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import structlog
from dramatiq import Broker
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from adapters.store import Store
from baton.operations.metrics import multiprocess
from baton.operations.metrics.middleware import StageMetrics, WorkerPrometheus
from baton.operations.metrics.store_gauges import StoreGauges
from baton.operations.metrics.worker_server import (
    CONTENT_TYPE as CONTENT_TYPE,  # the web's /metrics answers in it too
)
from baton.settings import Settings

log = structlog.get_logger(__name__)


def install_metrics(broker: Broker, settings: Settings) -> None:
    """Baton's stage metrics on every broker; dramatiq's own where this is a ``dramatiq workers`` process
    (multiprocess mode on) and a metrics port is set."""
    broker.add_middleware(StageMetrics())
    if settings.uses_rabbitmq and settings.metrics_port and multiprocess.enabled():
        broker.add_middleware(WorkerPrometheus())


def process_registry() -> CollectorRegistry:
    """This process's counters and histograms, or every worker process's sum in multiprocess mode."""
    if not multiprocess.enabled():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def metrics_text(store: Callable[[], Store] | None) -> bytes:
    """The exposition text: this process's metrics, plus the store's gauges when a store is given."""
    text = generate_latest(process_registry())
    if store is not None:
        gauges = CollectorRegistry()
        gauges.register(StoreGauges(store))
        text += generate_latest(gauges)
    return text


def serve_process_metrics(settings: Settings, store: Callable[[], Store] | None) -> bool:
    """A metrics endpoint for a long-running process (flusher, scheduler, listener) on ``BATON_METRICS_PORT``;
    False (logged) when the port is off or taken, which never stops the process itself."""
    if not settings.metrics_port:
        return False
    registry = CollectorRegistry()
    registry.register(_ProcessAndStore(store))
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    except OSError as exc:
        log.warning("metrics_port_unavailable", port=settings.metrics_port, error=str(exc))
        return False
    log.info("metrics_serving", port=settings.metrics_port)
    return True


class _ProcessAndStore(Collector):
    def __init__(self, store: Callable[[], Store] | None):
        self._store = StoreGauges(store) if store is not None else None

    def collect(self) -> Iterator[Metric]:
        yield from process_registry().collect()
        if self._store is not None:
            yield from self._store.collect()
