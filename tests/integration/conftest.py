"""Integration fixtures: a unique queue prefix and schema per test, real worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.store import Store, make_engine, upgrade_schema
from baton.configs import apply_config
from kernel.clock import utc_now
from tests.support.services import (
    FlusherProcess,
    Producer,
    ServiceProcess,
    WorkerProcess,
    delete_queues,
    unique_prefix,
    worker_env,
)


@dataclass
class Cluster:
    prefix: str
    schema: str
    store: Store
    producer: Producer
    env: dict[str, str]
    log_dir: Path
    workers: list[ServiceProcess] = field(default_factory=list)

    def apply(self, config_text: str) -> int:
        version, _ = apply_config(self.store.administration, config_text, utc_now())
        return version

    def start_worker(self, threads: int = 8) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.log_dir / f"worker-{len(self.workers)}.log", threads).start()
        self.workers.append(worker)
        return worker

    def start_flusher(self) -> ServiceProcess:
        flusher = FlusherProcess(self.env, self.log_dir / "flusher.log").start()
        self.workers.append(flusher)
        return flusher

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture
def cluster(rabbitmq_url: str, postgres_url: str, pg_schema: str, tmp_path: Path) -> Iterator[Cluster]:
    prefix = unique_prefix()
    engine = make_engine(postgres_url, pg_schema)
    upgrade_schema(engine, pg_schema)
    producer = Producer(rabbitmq_url, prefix)
    cluster = Cluster(prefix, pg_schema, Store(engine), producer,
                      worker_env(rabbitmq_url, postgres_url, pg_schema, prefix), tmp_path)
    try:
        yield cluster
    finally:
        for worker in cluster.workers:
            worker.stop()
        producer.close()
        delete_queues(rabbitmq_url, prefix)
        engine.dispose()
