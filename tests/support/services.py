"""Real RabbitMQ and worker processes for integration tests, under the test's own supervision."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker, dq_name, xq_name

from baton.chains import BOOKING, BOOKING_FOLLOWS, CLASSIFY, queue_names
from baton.salesforce.ingest import batches
from messages import RecordEvent

BOOKING_STAGES = tuple(stage.name for stage in (*BOOKING.stages, *BOOKING_FOLLOWS.stages))
REPO_ROOT = Path(__file__).resolve().parents[2]


def stage_queues(prefix: str) -> list[str]:
    names = list(queue_names(prefix))
    return names + [dq_name(n) for n in names] + [xq_name(n) for n in names]


@dataclass
class Producer:
    """Publishes stage batches to RabbitMQ the way the ingress does (publisher confirms on)."""

    url: str
    prefix: str
    broker: RabbitmqBroker = field(init=False)

    def __post_init__(self) -> None:
        self.broker = RabbitmqBroker(url=self.url, confirm_delivery=True, middleware=[])
        self.broker.declare_queue(CLASSIFY.queue(self.prefix))

    def publish(self, events: Sequence[RecordEvent], batch_size: int) -> int:
        count = 0
        for batch in batches(events, batch_size, datetime.now(UTC)):
            message = dramatiq.Message(
                queue_name=CLASSIFY.queue(self.prefix), actor_name=CLASSIFY.name,
                args=(batch.model_dump(mode="json"),), kwargs={}, options={},
            )
            self.broker.enqueue(message)
            count += 1
        return count

    def close(self) -> None:
        self.broker.close()


def queue_depths(prefix: str) -> dict[str, int]:
    """Ready plus unacknowledged messages per queue, from rabbitmqctl."""
    return {name: count for name, count in _queue_figures("messages").items() if name.startswith(prefix + ".")}


def queue_consumers(queue: str) -> int:
    """How many consumers ``queue`` has (0 while it does not exist)."""
    return _queue_figures("consumers").get(queue, 0)


def _queue_figures(figure: str) -> dict[str, int]:
    node = os.environ.get("BATON_TEST_RABBITMQ_NODE")
    output = subprocess.run(
        ["rabbitmqctl", *(["-n", node] if node else []), "list_queues", "-q", "--no-table-headers", "name", figure],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    return {parts[0]: int(parts[1]) for parts in (line.split() for line in output.splitlines()) if len(parts) == 2}


def wait_until_drained(prefix: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    quiet_checks = 0
    while time.monotonic() < deadline:
        depths = {name: n for name, n in queue_depths(prefix).items() if not name.endswith(".XQ")}
        quiet_checks = quiet_checks + 1 if not any(depths.values()) else 0
        if quiet_checks >= 2:
            return
        time.sleep(0.5)
    raise TimeoutError(f"queues with prefix {prefix} still hold messages: {queue_depths(prefix)}")


def delete_queues(url: str, prefix: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for name in stage_queues(prefix):
        channel.queue_delete(queue=name)
    connection.close()


def unique_prefix() -> str:
    return f"bt{uuid.uuid4().hex[:10]}"


class ServiceProcess:
    """One Baton process in its own process group, so killing it never takes siblings down."""

    def __init__(self, env: dict[str, str], log_path: Path, command: Sequence[str]):
        self.env = env
        self.log_path = log_path
        self.command = list(command)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.command],
            cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()


class WorkerProcess(ServiceProcess):
    """One ``dramatiq workers -p 1`` process (dramatiq's parent would stop every child when one dies)."""

    def __init__(self, env: dict[str, str], log_path: Path, threads: int = 8):
        super().__init__(env, log_path, ["dramatiq", "workers", "-p", "1", "-t", str(threads)])
        self.threads = threads


class FlusherProcess(ServiceProcess):
    """``baton flush``: drains the outbox every ``BATON_FLUSH_INTERVAL_MS``."""

    def __init__(self, env: dict[str, str], log_path: Path):
        super().__init__(env, log_path, ["baton", "flush"])


def worker_env(rabbitmq_url: str, postgres_url: str, schema: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BATON_")}
    env.update(
        {
            "BATON_BROKER_URL": rabbitmq_url,
            "BATON_DATABASE_URL": postgres_url,
            "BATON_DATABASE_SCHEMA": schema,
            "BATON_QUEUE_PREFIX": prefix,
            "BATON_LOG_LEVEL": "WARNING",
            "BATON_MIN_BACKOFF_MS": "100",
            "BATON_MAX_BACKOFF_MS": "2000",
            "BATON_OUTBOX_MIN_BACKOFF_MS": "100",
            "BATON_OUTBOX_MAX_BACKOFF_MS": "2000",
            "BATON_CONFIG_REFRESH_MS": "500",
            "BATON_FLUSH_INTERVAL_MS": "200",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    env.update(extra)
    return env
