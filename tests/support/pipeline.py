"""The in-process pipeline: real actors on a StubBroker with a Worker, SQLite store, recording fakes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from dramatiq import Broker, Message, Middleware, Worker
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed
from sqlalchemy.engine import Engine

from adapters.reference import FileReferenceData
from adapters.store import Store, make_engine, upgrade_schema
from baton import runtime
from baton.chains import BATCH_ROUTING, ROUTING
from baton.configs import ConfigProvider, apply_config
from baton.ports import Ports, RecordingSink
from baton.salesforce.flusher import FlushReport, flush_outbox
from baton.salesforce.ingest import enqueue
from baton.salesforce.retry import RetryPolicy
from kernel.clock import utc_now
from kernel.errors import TransientError
from kernel.ports import OwnerChange, WriteResult
from messages import AssignmentLog, RecordEvent

SETTLE_TIMEOUT_S = 60


class Settling(Middleware):
    """The messages a worker took and has not yet settled: an ack or nack and every other middleware's
    ``after_ack``/``after_nack`` (the dead-letter copy among them). A queue's ``join`` returns at the ack or
    nack itself, before those, so a test waits for this too. It must be the broker's first middleware: dramatiq
    runs the ``after_`` hooks in reverse order, so the first one's run last."""

    def __init__(self) -> None:
        self._unsettled: set[str] = set()
        self._changed = threading.Condition()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        with self._changed:
            self._unsettled.add(message.message_id)

    def _settled(self, message: MessageProxy) -> None:
        with self._changed:
            self._unsettled.discard(message.message_id)
            self._changed.notify_all()

    def after_ack(self, broker: Broker, message: MessageProxy) -> None:
        self._settled(message)

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        self._settled(message)

    def wait(self, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: not self._unsettled, timeout_s), f"unsettled: {self._unsettled}"


def settling(broker: StubBroker) -> Settling:
    """The broker's ``Settling`` middleware, added first the first time (a test session reuses its broker)."""
    found = next((middleware for middleware in broker.middleware if isinstance(middleware, Settling)), None)
    if found is None:
        found = Settling()
        if broker.middleware:
            broker.add_middleware(found, before=type(broker.middleware[0]))
        else:
            broker.add_middleware(found)
    return found


FLUSH_ATTEMPTS = 4  # a write failing transiently in every flush round is given up at its 4th attempt:
# the rounds are a minute apart, and the retry window ends 3 minutes after the first failure
FLUSH_POLICY = RetryPolicy(min_backoff_ms=5, max_backoff_ms=20, window=timedelta(minutes=FLUSH_ATTEMPTS - 1))


@dataclass
class RecordingOwnerWriter:
    """Fails transiently the first ``failures`` calls, then records every owner it writes."""

    failures: int = 0
    calls: int = 0
    written: list[OwnerChange] = field(default_factory=list)

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError(f"Salesforce answered 503 (call {self.calls})")
        self.written.extend(changes)
        return [WriteResult(change.routing_id, True, "sent") for change in changes]

    def api_usage(self) -> tuple[int, int] | None:
        return None


@dataclass
class FlakySink(RecordingSink):
    """The log stream: fails transiently the first ``failures`` publishes (with ``error``, by default a
    TransientError), then records every log."""

    failures: int = 0
    calls: int = 0
    error: Callable[[str], Exception] = TransientError

    def publish(self, logs: Sequence[AssignmentLog]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"log stream unavailable (call {self.calls})")
        super().publish(logs)


@dataclass
class Pipeline:
    app: runtime.Runtime
    broker: StubBroker
    store: Store
    writer: RecordingOwnerWriter
    sink: FlakySink

    def apply(self, config_text: str) -> int:
        version, _ = apply_config(self.store.administration, config_text, utc_now())
        return version

    def use_reference(self, accounts: Path | None = None, leads: Path | None = None,
                      contacts: Path | None = None) -> None:
        """Match leads against records in these files (the embedded default's reference data)."""
        self.app.ports = dataclasses.replace(self.app.ports, reference=FileReferenceData(accounts, leads, contacts))

    def use_writer(self, writer: object) -> None:
        """Write owners through this writer instead of the recording fake."""
        self.app.ports = dataclasses.replace(self.app.ports, owner_writer=writer)

    def send(self, events: Sequence[RecordEvent], batch_size: int = 100) -> None:
        enqueue(self.broker, events, batch_size, utc_now())

    def send_raw(self, stage: str, payload: object) -> None:
        self.broker.get_actor(stage).send(payload)

    @contextmanager
    def refusing_enqueue(self, refuse: Callable[[Message], bool] = lambda _: True) -> Iterator[list[Message]]:
        """The broker refuses each message ``refuse`` picks, as an unreachable RabbitMQ would; yields them."""
        original, refused = self.broker.enqueue, []

        def enqueue(message: Message, *, delay: int | None = None) -> Message:
            if refuse(message):
                refused.append(message)
                raise ConnectionClosed(OSError("broker unreachable"))
            return original(message, delay=delay)

        self.broker.enqueue = enqueue  # type: ignore[method-assign]
        try:
            yield refused
        finally:
            self.broker.enqueue = original  # type: ignore[method-assign]

    def drain(self) -> None:
        """Runs every stage until the queues are empty, then the outbox flusher until nothing is due."""
        self.route()
        self.flush()

    def route(self) -> None:
        """Runs every stage until the queues are empty (decisions and outbox rows stored, nothing flushed)."""
        for _ in range(2):
            for stage in (*ROUTING.stages, *BATCH_ROUTING.stages):
                self.broker.join(self.broker.get_actor(stage.name).queue_name, timeout=30_000, fail_fast=False)
            settling(self.broker).wait()

    def flush(self) -> FlushReport:
        """The outbox flusher's rounds, each a minute later, so rows waiting to be retried come due."""
        writer = self.app.ports.owner_writer
        total = FlushReport()
        for round_number in range(FLUSH_ATTEMPTS + 1):
            report = flush_outbox(self.store.outbox, self.store.administration, writer,
                                  utc_now() + timedelta(minutes=round_number), FLUSH_POLICY)
            total.add(report)
            if not report.retrying:
                break
        return total


@contextmanager
def running_pipeline(stub_runtime: runtime.Runtime, engine: Engine, schema: str | None = None) -> Iterator[Pipeline]:
    """The stage actors on the StubBroker with a worker, storing into ``engine`` (migrated here)."""
    upgrade_schema(engine, schema)
    store = Store(engine)
    writer = RecordingOwnerWriter()
    sink = FlakySink()
    ports = Ports(store=store, configs=ConfigProvider(store.administration, refresh_ms=0), owner_writer=writer, sink=sink)
    stub_runtime.ports = ports
    broker = stub_runtime.broker
    assert isinstance(broker, StubBroker)
    broker.flush_all()
    settling(broker)
    worker = Worker(broker, worker_timeout=50, worker_threads=4)
    worker.start()
    try:
        yield Pipeline(stub_runtime, broker, store, writer, sink)
    finally:
        worker.stop()
        broker.flush_all()
        engine.dispose()


@pytest.fixture
def pipeline(stub_runtime: runtime.Runtime, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(stub_runtime, make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")) as pipeline:
        yield pipeline
