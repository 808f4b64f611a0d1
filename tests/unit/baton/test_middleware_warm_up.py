"""Workers pay their one-time costs at boot: once per process, once per worker thread, never fatal."""

from __future__ import annotations

import threading

import dramatiq
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from structlog.testing import capture_logs

from baton.middleware import WarmUp

THREADS = 3


def test_process_and_thread_warm_ups_run_before_work_and_a_failing_one_does_not_stop_it() -> None:
    warmed_threads: list[str] = []
    lock = threading.Lock()

    def warm_process() -> None:
        raise RuntimeError("config store unreachable")

    def warm_thread() -> None:
        with lock:
            warmed_threads.append(threading.current_thread().name)

    broker = StubBroker(middleware=[WarmUp(warm_process, warm_thread)])
    handled: list[int] = []

    @dramatiq.actor(broker=broker, queue_name="warm-up-test")
    def record(number: int) -> None:
        handled.append(number)

    with capture_logs() as logs:
        worker = Worker(broker, worker_threads=THREADS, worker_timeout=50)
        worker.start()
        try:
            record.send(7)
            broker.join("warm-up-test", timeout=10_000)
            worker.join()
        finally:
            worker.stop()

    assert handled == [7]
    assert len(set(warmed_threads)) == THREADS
    assert [(e["what"], e["error"]) for e in logs if e["event"] == "warm_up_failed"] == [
        ("process", "config store unreachable")]
